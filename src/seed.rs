//! Demo data: the real *Betriebsnachbarschaften* project (Allianz für die Region GmbH,
//! 2020–2022), so that a new installation shows the domain at once.
//!
//! Sources (see `shared/seed/FACTS.md` of the steering repository, which collects them):
//! the project's closing press release for Landkreis Helmstedt of 2022-03-28, the sponsor's
//! closing releases for Goslar, Peine and Salzgitter (March 2022), the Fachkräftebündnis
//! SüdOstNiedersachsen's project page and closing note of 2022-03-31, and local reports of the
//! kick-offs in Seesen and Schöningen (2020).
//!
//! Only those facts are used. Where one is unknown (a day, a time, a venue, an amount), the
//! field stays empty and a note says so. Event times are not reported: events are stored at
//! 00:00 UTC of their day, and their notes say that the time of day is unknown. No source
//! names a participating company, so the demo companies are plainly fictional ("(Demo)" in
//! their names), as many per region as were reported, with the postal codes of their towns.
//!
//! Every record goes through the same validation as an API request. Seeding is idempotent:
//! records are looked up by their natural key (name, key, title) and only missing ones are
//! created, so a second run changes nothing.

use diesel::Connection as _;
use serde_json::{Value, json};

use crate::api::body;
use crate::api::companies::Companies;
use crate::api::error::ApiError;
use crate::api::events::Events;
use crate::api::funding_sources::FundingSources;
use crate::api::organizations::Organizations;
use crate::api::projects::Projects;
use crate::api::regions::Regions;
use crate::api::resource::Resource;
use crate::api::topics::Topics;
use crate::db::DbConnection;
use crate::domain::Actor;
use crate::models::{companies, events, funding_sources, organizations, projects, regions, topics};

const PROJECT: &str = "Betriebsnachbarschaften";
const SPONSOR: &str = "Allianz für die Region GmbH";
const MINISTRY: &str =
    "Niedersächsisches Ministerium für Wirtschaft, Arbeit, Verkehr und Digitalisierung";
const TIME_UNKNOWN: &str =
    "Die Uhrzeit ist nicht überliefert (gespeichert als 00:00 UTC des Tages).";

/// Topics named in the sources: (key, name, category).
const TOPICS: &[(&str, &str, &str)] = &[
    (
        "new_recruiting_channels",
        "Neue Rekrutierungswege",
        "recruitment",
    ),
    (
        "apprentice_marketing",
        "Azubimarketing",
        "apprentice_marketing",
    ),
    (
        "retention",
        "Mitarbeiterbindung – Mitarbeitende finden und halten",
        "retention",
    ),
    (
        "staff_qualification",
        "Mitarbeiterqualifizierung/Wissensmanagement",
        "qualification",
    ),
    (
        "personnel_development",
        "Personalentwicklung",
        "qualification",
    ),
    (
        "employer_attractiveness",
        "Arbeitgeberattraktivität",
        "employer_attractiveness",
    ),
    (
        "empowerment",
        "Selbstständiges Arbeiten/Empowerment",
        "other",
    ),
    (
        "workplace_health",
        "Betriebliches Gesundheitsmanagement",
        "retention",
    ),
    ("sustainability", "Nachhaltigkeit", "other"),
    ("digital_communication", "Digitale Kommunikation", "other"),
];

/// Supporting organizations: (name, kind, city if stated).
const ORGANIZATIONS: &[(&str, &str, Option<&str>)] = &[
    (SPONSOR, "sponsor", Some("Braunschweig")),
    (
        "Handwerkskammer Braunschweig-Lüneburg-Stade",
        "chamber_of_crafts",
        None,
    ),
    (
        "Industrie- und Handelskammer Braunschweig",
        "chamber_of_commerce",
        Some("Braunschweig"),
    ),
    ("RKW Kompetenzzentrum Nord", "consultancy", None),
    (
        "wito gmbh – Wirtschafts- und Tourismusfördergesellschaft Landkreis Peine mbH",
        "economic_development",
        Some("Peine"),
    ),
    (
        "WIS Wirtschafts- und Innovationsförderung Salzgitter GmbH",
        "economic_development",
        Some("Salzgitter"),
    ),
    (
        "Wirtschaftsförderung der Stadt Goslar",
        "economic_development",
        Some("Goslar"),
    ),
    (
        "Wirtschaftsförderung der Stadt Seesen",
        "economic_development",
        Some("Seesen"),
    ),
    (
        "Regionalmanagement Landkreis Helmstedt",
        "economic_development",
        None,
    ),
    (MINISTRY, "ministry", None),
];

/// Funding sources: (name, kind, role in the project).
const FUNDING: &[(&str, &str, &str)] = &[
    ("Europäischer Sozialfonds (ESF)", "eu", "funding"),
    (MINISTRY, "state", "funding"),
    ("Landkreis Helmstedt", "district", "co_financing"),
    ("Stadt Goslar", "municipality", "co_financing"),
    ("Stadt Seesen", "municipality", "co_financing"),
    (
        "Wirtschafts- und Innovationsförderung Salzgitter GmbH",
        "municipality",
        "co_financing",
    ),
    (
        "Wirtschafts- und Tourismusfördergesellschaft Landkreis Peine mbH (wito gmbh)",
        "district",
        "co_financing",
    ),
    (SPONSOR, "private", "co_financing"),
];

/// A project region with what the sources say about it.
struct RegionFacts {
    name: &'static str,
    district: &'static str,
    commercial_area: Option<&'static str>,
    description: &'static str,
    /// Topic keys the region focused on.
    topics: &'static [&'static str],
    /// Demo companies: how many, in which town, with which postal code.
    companies: usize,
    towns: &'static [(&'static str, &'static str)],
    closing: (&'static str, Option<&'static str>),
}

const REGIONS: &[RegionFacts] = &[
    RegionFacts {
        name: "Goslar",
        district: "Landkreis Goslar",
        commercial_area: None,
        description: "15 teilnehmende Unternehmen. Schwerpunkt: alternative und neue Rekrutierungswege. \
                      Das Datum des Projektauftakts ist nicht bekannt.",
        topics: &["new_recruiting_channels"],
        companies: 15,
        towns: &[("Goslar", "38640")],
        closing: ("2022-03-21", Some("Hotel Der Achtermann, Goslar")),
    },
    RegionFacts {
        name: "Peine",
        district: "Landkreis Peine",
        commercial_area: Some("Stadtgebiet Peine"),
        description: "17 teilnehmende Unternehmen aus dem Stadtgebiet Peine. Schwerpunkte: Fachkräftemangel, \
                      digitale Kommunikation, betriebliche Gesundheit einschließlich der Unternehmens-Challenge \
                      „walk at work“. Das Datum des Projektauftakts ist nicht bekannt.",
        topics: &["digital_communication", "workplace_health"],
        companies: 17,
        towns: &[("Peine", "31224")],
        closing: ("2022-03-22", Some("Hotel Schönau, Peine")),
    },
    RegionFacts {
        name: "Salzgitter",
        district: "kreisfreie Stadt Salzgitter",
        commercial_area: Some("Gewerbegebiet Peiner Straße und KMU-Area Salzgitter"),
        description: "Über 10 teilnehmende Unternehmen (die genaue Zahl ist nicht bekannt; die Demo-Daten \
                      zeigen 11). Schwerpunkte: betriebliches Gesundheitsmanagement, Nachhaltigkeit. \
                      Das Datum des Projektauftakts ist nicht bekannt.",
        topics: &["workplace_health", "sustainability"],
        companies: 11,
        towns: &[("Salzgitter", "38226")],
        closing: ("2022-03-30", Some("Peak Hotel, Salzgitter")),
    },
    RegionFacts {
        name: "Schöningen/Samtgemeinde Heeseberg",
        district: "Landkreis Helmstedt",
        commercial_area: None,
        description: "13 Unternehmen beim Projektauftakt, überwiegend Handwerksbetriebe. Schwerpunkte: \
                      Azubimarketing, Mitarbeiterbindung („Mitarbeitende finden und halten“), neue \
                      Rekrutierungswege, selbstständiges Arbeiten/Empowerment, Mitarbeiterqualifizierung/\
                      Wissensmanagement. Weitere Aktivitäten ohne überliefertes Datum: eine \
                      Unternehmenswerkstatt Azubimarketing mit Experten des RKW Kompetenzzentrums Nord \
                      (Stellenwert einer ansprechenden Internetpräsenz und der sozialen Medien bei der \
                      Auszubildendensuche) und eine Informationsveranstaltung, in der die Handwerkskammer \
                      Braunschweig-Lüneburg-Stade ihr Unterstützungsangebot vorstellte.",
        topics: &[
            "apprentice_marketing",
            "retention",
            "new_recruiting_channels",
            "empowerment",
            "staff_qualification",
        ],
        companies: 13,
        towns: &[("Schöningen", "38364"), ("Jerxheim", "38381")],
        closing: ("2022-03-28", Some("Gründer- und Unternehmerzentrum")),
    },
    RegionFacts {
        name: "Seesen",
        district: "Landkreis Goslar",
        commercial_area: None,
        description: "12 Unternehmen beim Projektauftakt. Über die allgemeinen Projektthemen hinaus sind \
                      keine Schwerpunkte überliefert.",
        topics: &[],
        companies: 12,
        towns: &[("Seesen", "38723")],
        closing: ("2022-03-29", None),
    },
];

/// Fictional craft businesses for the demo companies: (trade, legal form).
const TRADES: &[(&str, &str)] = &[
    ("Tischlerei", "GmbH"),
    ("Elektrotechnik", "GmbH & Co. KG"),
    ("Sanitär- und Heizungstechnik", "GmbH"),
    ("Dachdeckerei", "e.K."),
    ("Malerbetrieb", "GmbH"),
    ("Kfz-Werkstatt", "GmbH"),
    ("Bäckerei", "e.K."),
    ("Metallbau", "GmbH"),
    ("Zimmerei", "GmbH"),
    ("Fliesenlegerbetrieb", "e.K."),
    ("Steinmetzbetrieb", "GbR"),
    ("Raumausstattung", "e.K."),
];

/// How many records a seed run created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    pub created: usize,
}

struct Seeder<'a> {
    conn: &'a mut DbConnection,
    by: Actor,
    created: usize,
}

impl Seeder<'_> {
    /// Returns the id of the existing record, or creates it from `body` through the same
    /// validation as the API.
    fn ensure<R: Resource>(&mut self, existing: Option<i64>, body: Value) -> Result<i64, ApiError>
    where
        R::Id: Into<i64>,
    {
        if let Some(id) = existing {
            return Ok(id);
        }
        let input = body::parse::<R::Input>(body)?;
        let record = R::insert(self.conn, input, &self.by)?;
        self.created += 1;
        Ok(R::id(&record).into())
    }
}

/// Loads the demo project (idempotently) in one transaction.
pub fn demo(conn: &mut DbConnection) -> Result<Seeded, ApiError> {
    conn.transaction(|conn| {
        let mut s = Seeder { conn, by: Actor { label: "seed".into(), org: None }, created: 0 };

        let mut topic_ids = Vec::new();
        for (key, name, category) in TOPICS {
            let existing = topics::id_by_key(s.conn, key)?;
            topic_ids.push(s.ensure::<Topics>(existing, json!({"key": key, "name": name, "category": category}))?);
        }
        let topic_id = |key: &str| TOPICS.iter().position(|(k, _, _)| *k == key).map(|i| topic_ids[i]);

        let mut organization_ids = Vec::new();
        for (name, kind, city) in ORGANIZATIONS {
            let existing = organizations::find_id(s.conn, name)?;
            organization_ids.push(s.ensure::<Organizations>(existing, json!({"name": name, "kind": kind, "city": city}))?);
        }
        let sponsor = organization_ids[0];

        let mut funding = Vec::new();
        for (name, kind, role) in FUNDING {
            let existing = funding_sources::id_by_name(s.conn, name)?;
            let id = s.ensure::<FundingSources>(
                existing,
                json!({"name": name, "kind": kind, "description": "Fördersumme nicht veröffentlicht."}),
            )?;
            funding.push(json!({"funding_source_id": id, "role": role, "amount_cents": null}));
        }

        let mut region_ids = Vec::new();
        for region in REGIONS {
            let existing = regions::id_by_name(s.conn, region.name)?;
            region_ids.push(s.ensure::<Regions>(
                existing,
                json!({
                    "name": region.name, "district": region.district, "state": "Niedersachsen",
                    "commercial_area": region.commercial_area, "description": region.description,
                }),
            )?);
        }

        let existing = projects::id_by_name(s.conn, PROJECT)?;
        let project = s.ensure::<Projects>(
            existing,
            json!({
                "name": PROJECT,
                "description": "Benachbarte kleine und mittlere Unternehmen vernetzen, damit sie den \
                    Fachkräftemangel gemeinsam angehen – in Nachbarschaften, die über das Projekt hinaus \
                    Bestand haben. Ablauf: gewerbegebietsbezogene Bedarfserhebung beim Projektauftakt, \
                    Fachinformationen, dann Nachbarschaftstreffen und Unternehmenswerkstätten; mindestens \
                    eine gemeinsam vereinbarte Maßnahme je Projektraum; eine Abschlussveranstaltung in jedem \
                    Projektraum. Laufzeit rund zwei Jahre; der Beginn 2020-03-01 ist ungefähr (Auftakte \
                    waren für März 2020 geplant, einige wurden pandemiebedingt verschoben), das Ende \
                    2022-03-31 planmäßig.",
                "sponsor_id": sponsor,
                "programme": "Fachkräftebündnis SüdOstNiedersachsen",
                "status": "completed",
                "start_date": "2020-03-01",
                "end_date": "2022-03-31",
                "region_ids": region_ids,
                "topic_ids": topic_ids,
                "funding": funding,
            }),
        )?;

        for (region, &region_id) in REGIONS.iter().zip(&region_ids) {
            let region_topics: Vec<i64> = region.topics.iter().filter_map(|k| topic_id(k)).collect();
            for n in 0..region.companies {
                let (trade, legal_form) = TRADES[n % TRADES.len()];
                let (town, postal_code) = region.towns[n % region.towns.len()];
                let name = format!("Beispiel-{trade} {town} {} {legal_form} (Demo)", n + 1);
                let existing = companies::id_by_name_in_region(s.conn, &name, region_id)?;
                s.ensure::<Companies>(
                    existing,
                    json!({
                        "name": name, "legal_form": legal_form, "sector": "Handwerk", "trade": trade,
                        "region_id": region_id, "city": town, "postal_code": postal_code,
                        "topic_ids": region_topics, "project_ids": [project],
                    }),
                )?;
            }
        }

        let kickoffs = [
            (
                "Projektauftakt Schöningen/Samtgemeinde Heeseberg",
                3,
                "2020-06-24",
                Some("Rathaussaal Schöningen"),
                "Pandemiebedingt von März 2020 verschoben. Die gewerbegebietsbezogene Bedarfserhebung fand \
                 beim Auftakt statt.",
            ),
            (
                "Projektauftakt Seesen",
                4,
                "2020-07-01",
                Some("Jacobson-Haus, Seesen"),
                "Nur der Monat ist bekannt (Juli 2020; berichtet am 2020-07-16), gespeichert ist der erste \
                 des Monats. Zuerst geplant für den 2020-03-17. Die Bedarfserhebung fand beim Auftakt statt.",
            ),
        ];
        for (title, region, day, location, notes) in kickoffs {
            let existing = events::id_by_title_in_project(s.conn, title, project)?;
            s.ensure::<Events>(
                existing,
                json!({
                    "title": title, "kind": "kickoff", "project_id": project, "region_id": region_ids[region],
                    "starts_at": format!("{day}T00:00:00Z"), "location": location,
                    "organization_ids": [sponsor], "notes": format!("{notes} {TIME_UNKNOWN}"),
                }),
            )?;
        }

        for (region, &region_id) in REGIONS.iter().zip(&region_ids) {
            let (day, venue) = region.closing;
            let title = format!("Abschlussveranstaltung {}", region.name);
            let notes = match venue {
                Some(_) => TIME_UNKNOWN.to_owned(),
                None => format!("Der Veranstaltungsort ist nicht überliefert. {TIME_UNKNOWN}"),
            };
            let existing = events::id_by_title_in_project(s.conn, &title, project)?;
            s.ensure::<Events>(
                existing,
                json!({
                    "title": title, "kind": "closing_event", "project_id": project, "region_id": region_id,
                    "starts_at": format!("{day}T00:00:00Z"), "location": venue,
                    "organization_ids": [sponsor], "notes": notes,
                }),
            )?;
        }

        Ok(Seeded { created: s.created })
    })
}
