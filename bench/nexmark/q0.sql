-- Nexmark q0, pass-through: every bid, its columns unchanged (the C version: examples/nexmark.c).
-- Bids of `sluice bench --nexmark` (topic nexmark: people, auctions and bids in one topic, told
-- apart by event_type; people and auctions have none of a bid's columns but dateTime and extra,
-- and are filtered out by event_type = 2). Event time is dateTime, with Flink's 4 s disorder.
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM nexmark_sql_q0 WITH (topic = 'nexmark-sql-q0') AS
  SELECT auction, bidder, price, channel, url, "dateTime", extra
  FROM bid WHERE event_type = 2;
