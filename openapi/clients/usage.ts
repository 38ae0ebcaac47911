// A frontend's first steps with the generated types: list companies of a region, create an
// event. Type-checked (not run) in CI, so a document change that breaks clients fails there.
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/api";

type Company = components["schemas"]["CompanyView"];
type NewEvent = components["schemas"]["EventInput"];

// Lists and the project report also answer CSV (and the report HTML): a client says which
// media types it reads (JSON and problem+json here), and its answers are typed by them.
const api = createClient<paths, "application/json" | "application/problem+json">({
  baseUrl: "http://127.0.0.1:8080",
  headers: { Authorization: "Bearer <token>" },
});

// The same lists as CSV files, for a download button.
const files = createClient<paths, "text/csv" | "application/problem+json">({
  baseUrl: "http://127.0.0.1:8080",
  headers: { Authorization: "Bearer <token>", Accept: "text/csv" },
});

export async function companiesAsExcelFile(regionId: number): Promise<string> {
  const { data, error } = await files.GET("/api/v1/companies", {
    params: { query: { region_id: regionId, dialect: "excel" } },
    parseAs: "text",
  });
  if (error) throw new Error(error.detail);
  return data;
}

export async function companiesOf(regionId: number): Promise<Company[]> {
  const { data, error } = await api.GET("/api/v1/companies", {
    params: { query: { region_id: regionId, sort: "name", limit: 50 } },
  });
  if (error) throw new Error(error.detail);
  const names: string[] = data.items.map((c) => c.name);
  console.log(names, data.next_cursor ?? "last page");
  return data.items;
}

export async function planClosingEvent(projectId: number, regionId: number) {
  const body: NewEvent = {
    title: "Abschlussveranstaltung",
    kind: "closing_event",
    project_id: projectId,
    region_id: regionId,
    starts_at: "2022-03-28T00:00:00Z",
    company_ids: [],
  };
  const { data, error, response } = await api.POST("/api/v1/events", { body });
  if (error) throw new Error(`${response.status}: ${error.detail}`);
  return { id: data.id, etag: response.headers.get("ETag") };
}
