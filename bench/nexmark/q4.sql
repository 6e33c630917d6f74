-- Nexmark q4, average closing price per category: per auction, the highest bid made between its
-- start and its expiry (its closing price), then per category the average of those prices over
-- the closed auctions (Flink's q4; like Flink's, it ignores the reserve price).
-- Step 1 joins each auction with its bids (a windowed join: a bid counts only up to its
-- auction's expiry, and the generator's auctions last under 20 s at the tests' event rate and a
-- fraction of a second at its default one) and takes MAX(price) per auction in a window over
-- the auction's `expires`: every row of an auction falls in the same window, which closes when
-- the watermark passes the expiry, so each auction's closing price comes out once, when the
-- auction closes (Flink's regular join instead updates it with every bid and retracts). Step 2
-- reads those closing prices back (topic nexmark-sql-q4-closed) and keeps a running average per
-- category: one row per closed auction, with the number of auctions averaged so far.
-- GRACE: how far one input task may run ahead of another before its partner's records count as
-- late; the windows wait for it too.
-- Auctions and bids of `sluice bench --nexmark` (topic nexmark, told apart by event_type; the
-- WHERE conditions on one side run before the join, so people never reach it). Event time is
-- dateTime, with Flink's 4 s disorder.
CREATE STREAM auction (event_type INT, id BIGINT, seller BIGINT, category BIGINT,
                       "dateTime" BIGINT, expires BIGINT)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');
CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, "dateTime" BIGINT, extra VARCHAR)
  WITH (topic = 'nexmark', format = 'json', timestamp = 'dateTime', watermark_delay = '4s',
        idle_timeout = '5s');

CREATE STREAM q4_closed (auction BIGINT, category BIGINT, price BIGINT)
  WITH (topic = 'nexmark-sql-q4-closed', format = 'json');

INSERT INTO q4_closed
  SELECT a.id AS auction, a.category, MAX(b.price) AS price
  FROM auction a JOIN bid b WITHIN INTERVAL '20' SECOND GRACE INTERVAL '60' SECOND
    ON a.id = b.auction
  WHERE a.event_type = 1 AND b.event_type = 2 AND b."dateTime" >= a."dateTime"
    AND b."dateTime" <= a.expires
  GROUP BY a.id, a.category, TUMBLE(a.expires, INTERVAL '1' SECOND);

CREATE STREAM nexmark_sql_q4 WITH (topic = 'nexmark-sql-q4') AS
  SELECT category, AVG(price) AS avg_price, COUNT(*) AS auctions
  FROM q4_closed
  GROUP BY category;
