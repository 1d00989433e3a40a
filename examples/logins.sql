-- Tables of seed 003's user store (examples/logins.toml). The three
-- source_* columns hold the position of the input that produced a row:
-- the default conflict key, so a replay after a crash inserts nothing
-- twice (docs/sinks.md).
create table if not exists users (
  id serial primary key,
  username varchar(15) not null unique,
  password_hash varchar(60) not null check (password_hash like '$2b$%'),
  source_topic text, source_partition integer, source_offset bigint,
  unique (source_topic, source_partition, source_offset)
);
create table if not exists events (
  id serial primary key,
  username varchar(15) not null,
  event_type text not null,
  timestamp timestamptz not null,
  source_topic text, source_partition integer, source_offset bigint,
  unique (source_topic, source_partition, source_offset)
);
