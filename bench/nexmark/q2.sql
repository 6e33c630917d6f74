-- Nexmark q2, selection: the bids on auctions whose id is a multiple of 123.
-- Bids of `sluice bench --nexmark` (topic nexmark: people, auctions and bids in one topic, told
-- apart by event_type; people and auctions have none of a bid's columns but dateTime and extra,
-- and are filtered out by event_type = 2). Event time is dateTime, with Flink's 4 s disorder.
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM nexmark_sql_q2 WITH (topic = 'nexmark-sql-q2') AS
  SELECT auction, price
  FROM bid WHERE event_type = 2 AND auction % 123 = 0;
