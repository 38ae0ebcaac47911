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
    }
}
