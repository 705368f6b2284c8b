//! The PostgreSQL schema: statements that are safe to run at every start, by
//! several processes at once (the caller holds an advisory lock), on any
//! earlier version of it.

/// Creates what is missing and upgrades what is old.
pub const SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS rtchat_rooms (
        id         TEXT PRIMARY KEY,
        private    BOOLEAN NOT NULL,
        key_hash   BYTEA,
        created_at BIGINT NOT NULL
    );
    CREATE SEQUENCE IF NOT EXISTS rtchat_message_seq;
    CREATE TABLE IF NOT EXISTS rtchat_messages (
        seq        BIGINT PRIMARY KEY,
        room       TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        user_name  TEXT NOT NULL,
        text       TEXT NOT NULL,
        ts         BIGINT NOT NULL,
        client_id  TEXT
    );
    CREATE INDEX IF NOT EXISTS rtchat_messages_by_room ON rtchat_messages (room, seq);
    ALTER TABLE rtchat_rooms ADD COLUMN IF NOT EXISTS name TEXT;
    ALTER TABLE rtchat_rooms ADD COLUMN IF NOT EXISTS last_active BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS rtchat_rooms_by_activity ON rtchat_rooms (last_active DESC, id);
    ALTER TABLE rtchat_rooms ADD COLUMN IF NOT EXISTS creator TEXT;
    ALTER TABLE rtchat_messages ADD COLUMN IF NOT EXISTS edited BIGINT;
    ALTER TABLE rtchat_messages ADD COLUMN IF NOT EXISTS deleted BOOLEAN NOT NULL DEFAULT FALSE;
    -- A resend is recognised by its author: the stable user id, or `~name`
    -- for senders without one (all senders before stable ids).
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                       AND table_name = 'rtchat_messages' AND column_name = 'author') THEN
            ALTER TABLE rtchat_messages ADD COLUMN author TEXT NOT NULL DEFAULT '';
            UPDATE rtchat_messages SET author = '~' || user_name;
            DROP INDEX IF EXISTS rtchat_messages_resend;
        END IF;
    END $$;
    CREATE UNIQUE INDEX IF NOT EXISTS rtchat_messages_resend_by_author
        ON rtchat_messages (room, author, client_id) WHERE client_id IS NOT NULL;
    CREATE TABLE IF NOT EXISTS rtchat_users (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    ALTER TABLE rtchat_messages ADD COLUMN IF NOT EXISTS files TEXT;
    CREATE TABLE IF NOT EXISTS rtchat_files (
        id         TEXT PRIMARY KEY,
        room       TEXT NOT NULL,
        name       TEXT NOT NULL,
        type       TEXT NOT NULL,
        size       BIGINT NOT NULL,
        width      BIGINT,
        height     BIGINT,
        data       BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS rtchat_files_by_room ON rtchat_files (room);
    CREATE TABLE IF NOT EXISTS rtchat_secrets (
        name       TEXT PRIMARY KEY,
        value      BYTEA NOT NULL
    );
"#;
