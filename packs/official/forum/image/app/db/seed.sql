-- The forum's first content, made when the database is created (forum-setup-db), with times
-- relative to that moment: the community of an open-source photo manager, Lumen, over the
-- last six weeks. Random choices are seeded, so every box starts with the same forum.
SELECT setseed(0.42);

INSERT INTO site_settings (name, value) VALUES ('title', 'Lumen Community');

INSERT INTO users (username, name, email, admin, created_at, last_seen_at) VALUES
    ('sam',      'Sam Okafor',       'sam@lumen-photo.org',   true,  now() - interval '400 days', now() - interval '2 hours'),
    ('priya',    'Priya Raman',      'priya@lumen-photo.org', true,  now() - interval '380 days', now() - interval '5 hours'),
    ('jonas',    'Jonas Berg',       'jonas@example.com',     false, now() - interval '300 days', now() - interval '1 day'),
    ('mei',      'Mei Tanaka',       'mei@example.net',       false, now() - interval '250 days', now() - interval '3 hours'),
    ('lucas',    'Lucas Ferreira',   'lucas@example.org',     false, now() - interval '200 days', now() - interval '6 hours'),
    ('amara',    'Amara Diallo',     'amara@example.com',     false, now() - interval '180 days', now() - interval '2 days'),
    ('tomasz',   'Tomasz Nowak',     'tomasz@example.net',    false, now() - interval '150 days', now() - interval '8 hours'),
    ('elena',    'Elena Petrova',    'elena@example.org',     false, now() - interval '120 days', now() - interval '1 hour'),
    ('kwame',    'Kwame Mensah',     'kwame@example.com',     false, now() - interval '90 days',  now() - interval '4 days'),
    ('sofia',    'Sofia Lind',       'sofia@example.net',     false, now() - interval '60 days',  now() - interval '12 hours'),
    ('diego',    'Diego Alvarez',    'diego@example.org',     false, now() - interval '45 days',  now() - interval '9 hours'),
    ('hannah',   'Hannah Weiss',     'hannah@example.com',    false, now() - interval '30 days',  now() - interval '30 minutes');

-- Everyone else: 228 members, about one in eight without notification emails.
INSERT INTO users (username, name, email, email_notifications, digest, created_at, last_seen_at)
SELECT 'member' || lpad(n::text, 3, '0'), 'Member ' || n,
       'member' || lpad(n::text, 3, '0') || '@' || (ARRAY['example.com', 'example.net', 'example.org'])[1 + n % 3],
       random() > 0.12, random() > 0.3,
       now() - (random() * 300 + 10) * interval '1 day', now() - random() * interval '20 days'
FROM generate_series(1, 228) AS n;

INSERT INTO categories (name, slug, color, description, position) VALUES
    ('Announcements',    'announcements',    'e45735', 'Releases and news from the Lumen team.', 1),
    ('Support',          'support',          '0088cc', 'Help with installing and using Lumen.', 2),
    ('Feature Requests', 'feature-requests', '3ab54a', 'Ideas for Lumen.', 3),
    ('Development',      'development',      '652d90', 'Plugins, the API and contributing.', 4),
    ('Showcase',         'showcase',         'f7941d', 'Libraries and workflows built with Lumen.', 5),
    ('Site Feedback',    'site-feedback',    '808281', 'About this forum.', 6);

CREATE TEMPORARY TABLE seed_titles (n serial, title text, category int);
INSERT INTO seed_titles (title, category) VALUES
    ('Lumen 3.4 released: faster imports and a new map view', 1),
    ('Import from an SD card hangs at 99%', 2),
    ('Face detection misses people in low light', 2),
    ('Duplicate detection flags burst shots as duplicates', 2),
    ('Thumbnails regenerate on every start', 2),
    ('How do I move my library to a NAS?', 2),
    ('HEIC files import without dates', 2),
    ('Crash when exporting albums over 2 GB', 2),
    ('Docker install: permission denied on /photos', 2),
    ('Sidecar XMP files are ignored after upgrading', 2),
    ('Support for RAW files from the new mirrorless cameras', 3),
    ('Shared albums with a link that expires', 3),
    ('Dark mode for the web viewer', 3),
    ('Let us rate photos with the keyboard', 3),
    ('Sync ratings back to XMP', 3),
    ('Timeline view grouped by trip', 3),
    ('Writing a plugin for geotagging from GPX tracks', 4),
    ('The REST API returns 500 on /albums with 10k photos', 4),
    ('Proposal: move the thumbnail cache to WebP', 4),
    ('Building from source on ARM64', 4),
    ('Contributor call notes, this month', 4),
    ('My family archive: 80,000 scans organised with Lumen', 5),
    ('Wildlife workflow: Lumen plus darktable', 5),
    ('A Raspberry Pi photo frame fed from Lumen', 5),
    ('Restoring my grandfather''s slides', 5),
    ('Forum emails land in spam for Outlook users', 6),
    ('Can we have a category for translations?', 6),
    ('Search does not find posts older than a year', 6),
    ('Lumen 3.3.2 security release', 1),
    ('Mobile app beta: testers wanted', 1),
    ('Library scan uses 100% CPU for hours', 2),
    ('Albums disappeared after the 3.4 upgrade', 2),
    ('Export presets are lost on restart', 2),
    ('Keyboard shortcuts cheat sheet', 5),
    ('Better handling of photos without EXIF dates', 3),
    ('Translations: help us reach 20 languages', 4);

CREATE TEMPORARY TABLE seed_lines (n serial, line text);
INSERT INTO seed_lines (line) VALUES
    ('Same here since the upgrade. It started right after I moved the library to the new disk.'),
    ('Could you post the log from Settings > Diagnostics? The import log usually says which file it stopped on.'),
    ('Thanks, that worked! Clearing the thumbnail cache and restarting fixed it for me.'),
    ('I can reproduce this on 3.4.0 with a library of about 40k photos.'),
    ('This is on the roadmap for the next minor release, see the development category.'),
    ('+1, I would use this every day.'),
    ('Which version are you on? There was a fix for exactly this in 3.3.2.'),
    ('I opened an issue on the tracker with the steps to reproduce.'),
    ('Workaround for now: run the import from the command line with --no-faces.'),
    ('Beautiful work, thanks for sharing your setup!'),
    ('Is there a way to do this from the API? I would like to script it.'),
    ('The docs have a section on this under Libraries > Moving a library.'),
    ('Marking this as solved, the fix is in the nightly build.'),
    ('I have the same camera and RAW import works for me with the latest codec pack.'),
    ('Not sure this belongs in Support, moving it to Feature Requests.');

INSERT INTO topics (title, category_id, user_id, created_at, bumped_at, views)
SELECT title, category, 1 + floor(random() * 240)::int, t, t, 0
FROM (SELECT title, category, now() - interval '42 days' + (n * interval '1 day') + random() * interval '20 hours' AS t
      FROM seed_titles ORDER BY n) s;

-- The first post of each topic, then 2 to 20 replies spread after it.
INSERT INTO posts (topic_id, user_id, post_number, raw, cooked, created_at)
SELECT t.id, t.user_id, 1, t.title || E'.\n\n' || (SELECT line FROM seed_lines WHERE n = 1 + (t.id % 15)),
       NULL, t.created_at
FROM topics t;

INSERT INTO posts (topic_id, user_id, post_number, raw, created_at)
SELECT t.id, 1 + floor(random() * 240)::int, r + 1,
       (SELECT line FROM seed_lines WHERE n = 1 + ((t.id * 7 + r) % 15)),
       LEAST(now() - interval '1 hour', t.created_at + r * random() * interval '14 hours')
FROM topics t, generate_series(1, 20) AS r
WHERE r <= 2 + (t.id * 13) % 19;

UPDATE posts SET cooked = '<p>' || replace(replace(raw, '&', '&amp;'), E'\n\n', '</p><p>') || '</p>';

UPDATE topics t SET posts_count = p.cnt, bumped_at = p.last_at, last_post_user_id = p.last_user,
                    views = p.cnt * (20 + floor(random() * 60)::int)
FROM (SELECT DISTINCT ON (topic_id) topic_id, count(*) OVER (PARTITION BY topic_id) AS cnt,
             created_at AS last_at, user_id AS last_user
      FROM posts ORDER BY topic_id, post_number DESC) p
WHERE p.topic_id = t.id;

-- Who watches what: each topic's author, its posters, and about one member in seven.
INSERT INTO topic_users (user_id, topic_id, notification_level)
SELECT DISTINCT user_id, topic_id, 3 FROM posts
ON CONFLICT DO NOTHING;
INSERT INTO topic_users (user_id, topic_id, notification_level)
SELECT u.id, t.id, 3 FROM users u, topics t WHERE random() < 0.14
ON CONFLICT DO NOTHING;

-- What those posts notified, and the emails that went out for them.
INSERT INTO notifications (user_id, notification_type, topic_id, post_id, read, email_status, emailed_at, created_at)
SELECT tu.user_id, 2, p.topic_id, p.id, random() < 0.7,
       CASE WHEN u.email_notifications THEN 'sent' END,
       CASE WHEN u.email_notifications THEN p.created_at + random() * interval '20 seconds' END,
       p.created_at
FROM posts p
JOIN topic_users tu ON tu.topic_id = p.topic_id AND tu.notification_level = 3 AND tu.user_id <> p.user_id
JOIN users u ON u.id = tu.user_id
WHERE p.post_number > 1;

INSERT INTO email_logs (email_type, to_address, user_id, post_id, notification_id, message_id, created_at)
SELECT 'user_replied', u.email, u.id, n.post_id, n.id,
       'topic/' || n.topic_id || '/' || n.post_id || '.n' || n.id || '@forum.example', n.emailed_at
FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.email_status = 'sent';

-- The key the forum's members' apps post with (Api-Key, with Api-Username naming the member).
INSERT INTO api_keys (key, description, user_id) VALUES
    ('2f9c4e1a7b3d5f60a8c1e2d4b6f8a0c3e5d7b9f1a3c5e7d9', 'All users (mobile app and integrations)', NULL);

ANALYZE users, topics, posts, topic_users, notifications, email_logs;
