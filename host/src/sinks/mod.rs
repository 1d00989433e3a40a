//! Destinations other than Kafka topics.
//!
//! A pipeline file can name database tables as destinations (`[tables.NAME]`);
//! [`postgres`] writes routed outputs into PostgreSQL in batches and says, per
//! input, whether its rows are stored, refused by the database (dead-letter)
//! or waiting for the database to come back (retry, nothing committed).

pub mod health;
pub mod postgres;
pub mod tables;
