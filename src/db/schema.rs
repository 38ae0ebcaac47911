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

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(clients -> organizations (organization_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    regions,
    organizations,
    users,
    clients,
    refresh_tokens
);
