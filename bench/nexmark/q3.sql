-- Nexmark q3, local item suggestion: the auctions of category 10 whose seller lives in Oregon,
-- Idaho or California, with the seller's name, city and state (Flink's q3).
-- Flink's q3 is a regular join, which keeps both sides forever. This is a windowed join wide
-- enough to hold every pair the generator makes (a seller is one of the last 1,000 people, made
-- within the last 50,000 events: 5 s at the generator's default rate, under a day down to 0.6
-- events/s): a day, the same bound as the C version (examples/nexmark.c),
-- so it finds each pair once whichever side comes first, as a batch join of the same events does.
-- A stream-table join over the people would miss the auctions that arrive before their seller
-- (the generator makes a few) and depend on which topic is read first. GRACE: how far one input
-- task may run ahead of another before its partner's records count as late.
-- People and auctions of `sluice bench --nexmark` (topic nexmark, told apart by event_type; the
-- WHERE conditions on one side run before the join, so bids never reach it). Event time is
-- dateTime, with Flink's 4 s disorder.
CREATE STREAM person (event_type INT, id BIGINT, name VARCHAR, city VARCHAR, state VARCHAR,
                      "dateTime" BIGINT)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');
CREATE STREAM auction (event_type INT, id BIGINT, seller BIGINT, category BIGINT,
                       "dateTime" BIGINT, expires BIGINT)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM nexmark_sql_q3 WITH (topic = 'nexmark-sql-q3') AS
  SELECT p.name, p.city, p.state, a.id
  FROM auction a JOIN person p WITHIN INTERVAL '1' DAY GRACE INTERVAL '120' SECOND
    ON a.seller = p.id
  WHERE a.event_type = 1 AND a.category = 10 AND p.event_type = 0
    AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA');
