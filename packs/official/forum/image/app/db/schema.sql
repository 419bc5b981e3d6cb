-- The forum's schema (loaded once, when the database is created: forum-setup-db).
CREATE TABLE users (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE,
    name text,
    email text NOT NULL UNIQUE,
    admin boolean NOT NULL DEFAULT false,
    active boolean NOT NULL DEFAULT true,
    email_notifications boolean NOT NULL DEFAULT true,  -- emails for watched topics
    digest boolean NOT NULL DEFAULT true,               -- the daily summary
    last_digest_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz
);

CREATE TABLE categories (
    id serial PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    color text NOT NULL DEFAULT '0088cc',
    description text,
    position int NOT NULL DEFAULT 0
);

CREATE TABLE topics (
    id serial PRIMARY KEY,
    title text NOT NULL,
    category_id int NOT NULL REFERENCES categories,
    user_id int NOT NULL REFERENCES users,
    posts_count int NOT NULL DEFAULT 0,
    views int NOT NULL DEFAULT 0,
    closed boolean NOT NULL DEFAULT false,
    last_post_user_id int REFERENCES users,
    created_at timestamptz NOT NULL DEFAULT now(),
    bumped_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX topics_bumped_at ON topics (bumped_at DESC);

CREATE TABLE posts (
    id serial PRIMARY KEY,
    topic_id int NOT NULL REFERENCES topics,
    user_id int NOT NULL REFERENCES users,
    post_number int NOT NULL,
    raw text NOT NULL,
    cooked text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic_id, post_number)
);

-- notification_level: 1 regular, 2 tracking, 3 watching (watchers get an email per post)
CREATE TABLE topic_users (
    user_id int NOT NULL REFERENCES users,
    topic_id int NOT NULL REFERENCES topics,
    notification_level smallint NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, topic_id)
);
CREATE INDEX topic_users_topic ON topic_users (topic_id, notification_level);

-- notification_type: 1 mentioned, 2 replied (a post in a watched topic)
-- email_status: NULL (no email wanted), pending (a Jobs::NotificationEmail is queued),
-- sent, skipped (see skipped_email_logs)
CREATE TABLE notifications (
    id bigserial PRIMARY KEY,
    user_id int NOT NULL REFERENCES users,
    notification_type smallint NOT NULL,
    topic_id int REFERENCES topics,
    post_id int REFERENCES posts,
    read boolean NOT NULL DEFAULT false,
    email_status text,
    emailed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, post_id, notification_type)
);
CREATE INDEX notifications_email_status ON notifications (email_status) WHERE email_status IN ('pending', 'skipped');
CREATE INDEX notifications_emailed_at ON notifications (emailed_at);

CREATE TABLE email_logs (
    id bigserial PRIMARY KEY,
    email_type text NOT NULL,
    to_address text NOT NULL,
    user_id int,
    post_id int,
    notification_id bigint,
    message_id text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_logs_created_at ON email_logs (created_at);

CREATE TABLE skipped_email_logs (
    id bigserial PRIMARY KEY,
    email_type text NOT NULL,
    to_address text NOT NULL,
    user_id int,
    notification_id bigint,
    reason text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE site_settings (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE uploads (
    id serial PRIMARY KEY,
    user_id int REFERENCES users,
    original_filename text NOT NULL,
    filesize bigint NOT NULL,
    sha1 text NOT NULL,
    url text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- user_id NULL: an all-users key (Api-Username says who acts)
CREATE TABLE api_keys (
    key text PRIMARY KEY,
    description text NOT NULL,
    user_id int REFERENCES users,
    revoked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
