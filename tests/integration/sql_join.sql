-- Joins in SQL, for test_sql_join.sh: an enrichment (stream LEFT JOIN table, the stream re-keyed
-- by its ON column) and a windowed FULL OUTER stream-stream join, in one application.
CREATE STREAM sj_events (id VARCHAR, user VARCHAR, amount INT, ts BIGINT)
  WITH (topic = 'sj-events', timestamp = 'ts');
CREATE TABLE sj_users (uid VARCHAR, name VARCHAR, tier INT, PRIMARY KEY (uid))
  WITH (topic = 'sj-users');
CREATE STREAM sj_enriched WITH (topic = 'sj-enriched') AS
  SELECT e.id, e.user, u.name, u.tier, e.amount * 10 AS amt10
  FROM sj_events e LEFT JOIN sj_users u ON e.user = u.uid;

CREATE STREAM sj_imps (id VARCHAR, ad VARCHAR, ts BIGINT)
  WITH (topic = 'sj-imps', timestamp = 'ts', watermark_delay = '1s');
CREATE STREAM sj_clicks (id VARCHAR, ad VARCHAR, ts BIGINT)
  WITH (topic = 'sj-clicks', timestamp = 'ts', watermark_delay = '1s');
CREATE STREAM sj_pairs WITH (topic = 'sj-pairs') AS
  SELECT COALESCE(i.ad, c.ad) AS ad, i.id AS imp, c.id AS click
  FROM sj_imps AS i FULL OUTER JOIN sj_clicks AS c WITHIN INTERVAL '200' MILLISECOND
  ON i.ad = c.ad;
