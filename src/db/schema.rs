//! Table definitions, written by hand for both backends: ids are `BigInt` everywhere
//! (SQLite's INTEGER PRIMARY KEY is 64-bit), timestamps are UTC `Timestamp`s.

diesel::table! {
    regions (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        district -> Nullable<Text>,
        state -> Nullable<Text>,
        commercial_area -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        kind -> Text,
        city -> Nullable<Text>,
        website -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_key -> Text,
        password_hash -> Text,
        role -> Text,
        organization_id -> Nullable<BigInt>,
        display_name -> Nullable<Text>,
        email -> Nullable<Text>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    clients (id) {
        id -> BigInt,
        client_id -> Text,
        name -> Text,
        name_key -> Text,
        secret_hash -> Text,
        role -> Text,
        organization_id -> Nullable<BigInt>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        family -> Text,
        user_id -> BigInt,
        role -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (throttle_key) {
        throttle_key -> Text,
        failures -> BigInt,
        last_failure_at -> Timestamp,
    }
}

diesel::table! {
    topics (id) {
        id -> BigInt,
        key -> Text,
        name -> Text,
        name_key -> Text,
        category -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    funding_sources (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        kind -> Text,
        provider -> Nullable<Text>,
        programme -> Nullable<Text>,
        website -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    projects (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        description -> Nullable<Text>,
        sponsor_id -> Nullable<BigInt>,
        programme -> Nullable<Text>,
        status -> Text,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        start_sort -> Date,
        end_sort -> Date,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    project_regions (project_id, region_id) {
        project_id -> BigInt,
        region_id -> BigInt,
    }
}

diesel::table! {
    project_topics (project_id, topic_id) {
        project_id -> BigInt,
        topic_id -> BigInt,
    }
}

diesel::table! {
    project_funding (project_id, funding_source_id, role) {
        project_id -> BigInt,
        funding_source_id -> BigInt,
        role -> Text,
        amount_cents -> Nullable<BigInt>,
    }
}

diesel::table! {
    companies (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        legal_form -> Nullable<Text>,
        sector -> Nullable<Text>,
        trade -> Nullable<Text>,
        region_id -> BigInt,
        street -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        city -> Nullable<Text>,
        city_key -> Text,
        employee_count -> Nullable<BigInt>,
        apprentice_count -> Nullable<BigInt>,
        employee_sort -> BigInt,
        website -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    company_topics (company_id, topic_id) {
        company_id -> BigInt,
        topic_id -> BigInt,
    }
}

diesel::table! {
    company_projects (company_id, project_id) {
        company_id -> BigInt,
        project_id -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        title -> Text,
        title_key -> Text,
        kind -> Text,
        project_id -> BigInt,
        region_id -> Nullable<BigInt>,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        location -> Nullable<Text>,
        format -> Nullable<Text>,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        owner_org_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    event_topics (event_id, topic_id) {
        event_id -> BigInt,
        topic_id -> BigInt,
    }
}

diesel::table! {
    event_organizations (event_id, organization_id) {
        event_id -> BigInt,
        organization_id -> BigInt,
    }
}

diesel::table! {
    event_companies (event_id, company_id) {
        event_id -> BigInt,
        company_id -> BigInt,
    }
}

diesel::table! {
    changes (id) {
        id -> BigInt,
        seq -> Nullable<BigInt>,
        resource -> Text,
        resource_id -> BigInt,
        action -> Text,
        version -> BigInt,
        at -> Timestamp,
        actor -> Text,
    }
}

diesel::table! {
    change_feed (id) {
        id -> BigInt,
        last_seq -> BigInt,
        purged_through -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (caller, key) {
        caller -> Text,
        key -> Text,
        fingerprint -> Text,
        status -> Integer,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(clients -> organizations (organization_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    regions,
    organizations,
    users,
    clients,
    refresh_tokens,
    topics,
    funding_sources,
    projects,
    project_regions,
    project_topics,
    project_funding,
    companies,
    company_topics,
    company_projects,
    events,
    event_topics,
    event_organizations,
    event_companies,
);
