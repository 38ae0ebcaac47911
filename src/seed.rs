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
//! Every record is written through the domain layer, as an API request's is (its rules on
//! references, uniqueness and date order hold; the seed test reads everything back through
//! the API and writes it back unchanged, which holds the values to the API's field rules too).
//! Seeding is idempotent:
//! records are looked up by their natural key (name, key, title) and only missing ones are
//! created, so a second run changes nothing.

use chrono::{NaiveDate, NaiveTime};

use crate::db::{self, Conn};
use crate::domain::companies::{Companies, NewCompany};
use crate::domain::events::{Events, NewEvent};
use crate::domain::funding_sources::{FundingSources, NewFundingSource};
use crate::domain::organizations::{NewOrganization, Organizations};
use crate::domain::projects::{NewProject, Projects};
use crate::domain::regions::{NewRegion, Regions};
use crate::domain::resource::{self, Crud};
use crate::domain::topics::{NewTopic, Topics};
use crate::domain::values::{
    EventKind, FundingKind, FundingRole, OrganizationKind, ProjectStatus, TopicCategory,
};
use crate::domain::{Actor, DomainError, IdSet, TopicId};
use crate::models::projects::FundingLine;
use crate::models::{companies, events, funding_sources, organizations, projects, regions, topics};

const PROJECT: &str = "Betriebsnachbarschaften";
const SPONSOR: &str = "Allianz für die Region GmbH";
const MINISTRY: &str =
    "Niedersächsisches Ministerium für Wirtschaft, Arbeit, Verkehr und Digitalisierung";
const TIME_UNKNOWN: &str =
    "Die Uhrzeit ist nicht überliefert (gespeichert als 00:00 UTC des Tages).";

/// Topics named in the sources: (key, name, category).
const TOPICS: &[(&str, &str, TopicCategory)] = &[
    (
        "new_recruiting_channels",
        "Neue Rekrutierungswege",
        TopicCategory::Recruitment,
    ),
    (
        "apprentice_marketing",
        "Azubimarketing",
        TopicCategory::ApprenticeMarketing,
    ),
    (
        "retention",
        "Mitarbeiterbindung – Mitarbeitende finden und halten",
        TopicCategory::Retention,
    ),
    (
        "staff_qualification",
        "Mitarbeiterqualifizierung/Wissensmanagement",
        TopicCategory::Qualification,
    ),
    (
        "personnel_development",
        "Personalentwicklung",
        TopicCategory::Qualification,
    ),
    (
        "employer_attractiveness",
        "Arbeitgeberattraktivität",
        TopicCategory::EmployerAttractiveness,
    ),
    (
        "empowerment",
        "Selbstständiges Arbeiten/Empowerment",
        TopicCategory::Other,
    ),
    (
        "workplace_health",
        "Betriebliches Gesundheitsmanagement",
        TopicCategory::Retention,
    ),
    ("sustainability", "Nachhaltigkeit", TopicCategory::Other),
    (
        "digital_communication",
        "Digitale Kommunikation",
        TopicCategory::Other,
    ),
];

/// Supporting organizations: (name, kind, city if stated).
const ORGANIZATIONS: &[(&str, OrganizationKind, Option<&str>)] = &[
    (SPONSOR, OrganizationKind::Sponsor, Some("Braunschweig")),
    (
        "Handwerkskammer Braunschweig-Lüneburg-Stade",
        OrganizationKind::ChamberOfCrafts,
        None,
    ),
    (
        "Industrie- und Handelskammer Braunschweig",
        OrganizationKind::ChamberOfCommerce,
        Some("Braunschweig"),
    ),
    (
        "RKW Kompetenzzentrum Nord",
        OrganizationKind::Consultancy,
        None,
    ),
    (
        "wito gmbh – Wirtschafts- und Tourismusfördergesellschaft Landkreis Peine mbH",
        OrganizationKind::EconomicDevelopment,
        Some("Peine"),
    ),
    (
        "WIS Wirtschafts- und Innovationsförderung Salzgitter GmbH",
        OrganizationKind::EconomicDevelopment,
        Some("Salzgitter"),
    ),
    (
        "Wirtschaftsförderung der Stadt Goslar",
        OrganizationKind::EconomicDevelopment,
        Some("Goslar"),
    ),
    (
        "Wirtschaftsförderung der Stadt Seesen",
        OrganizationKind::EconomicDevelopment,
        Some("Seesen"),
    ),
    (
        "Regionalmanagement Landkreis Helmstedt",
        OrganizationKind::EconomicDevelopment,
        None,
    ),
    (MINISTRY, OrganizationKind::Ministry, None),
];

/// Funding sources: (name, kind, role in the project).
const FUNDING: &[(&str, FundingKind, FundingRole)] = &[
    (
        "Europäischer Sozialfonds (ESF)",
        FundingKind::Eu,
        FundingRole::Funding,
    ),
    (MINISTRY, FundingKind::State, FundingRole::Funding),
    (
        "Landkreis Helmstedt",
        FundingKind::District,
        FundingRole::CoFinancing,
    ),
    (
        "Stadt Goslar",
        FundingKind::Municipality,
        FundingRole::CoFinancing,
    ),
    (
        "Stadt Seesen",
        FundingKind::Municipality,
        FundingRole::CoFinancing,
    ),
    (
        "Wirtschafts- und Innovationsförderung Salzgitter GmbH",
        FundingKind::Municipality,
        FundingRole::CoFinancing,
    ),
    (
        "Wirtschafts- und Tourismusfördergesellschaft Landkreis Peine mbH (wito gmbh)",
        FundingKind::District,
        FundingRole::CoFinancing,
    ),
    (SPONSOR, FundingKind::Private, FundingRole::CoFinancing),
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

struct Seeder<'a, 'c> {
    conn: &'a mut Conn<'c>,
    by: Actor,
    created: usize,
}

impl Seeder<'_, '_> {
    /// Returns the id of the existing record, or creates `new` through the domain layer.
    async fn ensure<R: Crud>(
        &mut self,
        existing: Option<R::Id>,
        new: impl FnOnce() -> R::New,
    ) -> Result<R::Id, DomainError> {
        if let Some(id) = existing {
            return Ok(id);
        }
        let record = resource::create::<R>(self.conn, &self.by, new()).await?;
        self.created += 1;
        Ok(R::meta(&record).id)
    }
}

/// A day of the sources (`YYYY-MM-DD`).
fn day(text: &str) -> Result<NaiveDate, DomainError> {
    text.parse()
        .map_err(|e| DomainError::Internal(format!("seed date {text:?}: {e}")))
}

/// Loads the demo project (idempotently) in one transaction.
pub async fn demo(conn: &mut Conn<'_>) -> Result<Seeded, DomainError> {
    db::transaction(conn, async |conn| {
        let mut s = Seeder { conn, by: Actor::command_line("seed"), created: 0 };

        let mut topic_ids = Vec::new();
        for &(key, name, category) in TOPICS {
            let existing = topics::id_by_key(s.conn, key).await?;
            topic_ids.push(s.ensure::<Topics>(existing, || NewTopic {
                key: key.into(),
                name: name.into(),
                category,
                description: None,
            }).await?);
        }
        let topic_id = |key: &str| TOPICS.iter().position(|(k, _, _)| *k == key).map(|i| topic_ids[i]);

        let mut organization_ids = Vec::new();
        for &(name, kind, city) in ORGANIZATIONS {
            let existing = organizations::find_id(s.conn, name).await?;
            organization_ids.push(s.ensure::<Organizations>(existing, || NewOrganization {
                city: city.map(Into::into),
                ..NewOrganization::named(name.into(), kind)
            }).await?);
        }
        let sponsor = organization_ids[0];

        let mut funding = Vec::new();
        for &(name, kind, role) in FUNDING {
            let existing = funding_sources::id_by_name(s.conn, name).await?;
            let id = s.ensure::<FundingSources>(existing, || NewFundingSource {
                name: name.into(),
                kind,
                provider: None,
                programme: None,
                website: None,
                description: Some("Fördersumme nicht veröffentlicht.".into()),
            }).await?;
            funding.push(FundingLine { funding_source_id: id, role, amount_cents: None });
        }

        let mut region_ids = Vec::new();
        for region in REGIONS {
            let existing = regions::id_by_name(s.conn, region.name).await?;
            region_ids.push(s.ensure::<Regions>(existing, || NewRegion {
                name: region.name.into(),
                district: Some(region.district.into()),
                state: Some("Niedersachsen".into()),
                commercial_area: region.commercial_area.map(Into::into),
                description: Some(region.description.into()),
            }).await?);
        }

        let existing = projects::id_by_name(s.conn, PROJECT).await?;
        let (start_date, end_date) = (day("2020-03-01")?, day("2022-03-31")?);
        let project = s.ensure::<Projects>(existing, || NewProject {
            name: PROJECT.into(),
            description: Some(
                "Benachbarte kleine und mittlere Unternehmen vernetzen, damit sie den \
                 Fachkräftemangel gemeinsam angehen – in Nachbarschaften, die über das Projekt hinaus \
                 Bestand haben. Ablauf: gewerbegebietsbezogene Bedarfserhebung beim Projektauftakt, \
                 Fachinformationen, dann Nachbarschaftstreffen und Unternehmenswerkstätten; mindestens \
                 eine gemeinsam vereinbarte Maßnahme je Projektraum; eine Abschlussveranstaltung in jedem \
                 Projektraum. Laufzeit rund zwei Jahre; der Beginn 2020-03-01 ist ungefähr (Auftakte \
                 waren für März 2020 geplant, einige wurden pandemiebedingt verschoben), das Ende \
                 2022-03-31 planmäßig."
                    .into(),
            ),
            sponsor_id: Some(sponsor),
            programme: Some("Fachkräftebündnis SüdOstNiedersachsen".into()),
            status: ProjectStatus::Completed,
            start_date: Some(start_date),
            end_date: Some(end_date),
            region_ids: region_ids.iter().copied().collect(),
            topic_ids: topic_ids.iter().copied().collect(),
            funding,
        }).await?;

        for (number, (region, &region_id)) in REGIONS.iter().zip(&region_ids).enumerate() {
            let region_topics: IdSet<TopicId> = region.topics.iter().filter_map(|k| topic_id(k)).collect();
            for n in 0..region.companies {
                let (trade, legal_form) = TRADES[n % TRADES.len()];
                let (town, postal_code) = region.towns[n % region.towns.len()];
                let name = format!("Beispiel-{trade} {town} {} {legal_form} (Demo)", n + 1);
                let existing = companies::id_by_name_in_region(s.conn, &name, region_id).await?;
                s.ensure::<Companies>(existing, || NewCompany {
                    name,
                    // A made-up chamber key, as fictional as the company.
                    external_id: Some(format!("DEMO-{}-{:02}", number + 1, n + 1)),
                    legal_form: Some(legal_form.into()),
                    sector: Some("Handwerk".into()),
                    trade: Some(trade.into()),
                    region_id,
                    street: None,
                    postal_code: Some(postal_code.into()),
                    city: Some(town.into()),
                    employee_count: None,
                    apprentice_count: None,
                    website: None,
                    email: None,
                    phone: None,
                    topic_ids: region_topics.clone(),
                    project_ids: [project].into_iter().collect(),
                }).await?;
            }
        }

        let event = |title: String, kind, region_id, starts_on: NaiveDate, location: Option<&str>, notes: String| NewEvent {
            title,
            kind,
            project_id: project,
            region_id: Some(region_id),
            starts_at: starts_on.and_time(NaiveTime::MIN),
            ends_at: None,
            location: location.map(Into::into),
            format: None,
            topic_ids: IdSet::default(),
            organization_ids: [sponsor].into_iter().collect(),
            company_ids: IdSet::default(),
            notes: Some(notes),
        };

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
        for (title, region, starts_on, location, notes) in kickoffs {
            let existing = events::id_by_title_in_project(s.conn, title, project).await?;
            let starts_on = day(starts_on)?;
            s.ensure::<Events>(existing, || {
                event(title.into(), EventKind::Kickoff, region_ids[region], starts_on, location, format!("{notes} {TIME_UNKNOWN}"))
            }).await?;
        }

        for (region, &region_id) in REGIONS.iter().zip(&region_ids) {
            let (starts_on, venue) = region.closing;
            let title = format!("Abschlussveranstaltung {}", region.name);
            let notes = match venue {
                Some(_) => TIME_UNKNOWN.to_owned(),
                None => format!("Der Veranstaltungsort ist nicht überliefert. {TIME_UNKNOWN}"),
            };
            let existing = events::id_by_title_in_project(s.conn, &title, project).await?;
            let starts_on = day(starts_on)?;
            s.ensure::<Events>(existing, || event(title, EventKind::ClosingEvent, region_id, starts_on, venue, notes)).await?;
        }

        Ok(Seeded { created: s.created })
    })
    .await
}
