-- Otto 1.2 to 1.3, after the functions: the market's sums have two terms
-- more (otto.market_terms 67 and 68, fastest_selling's exposure), summed
-- again from the ads as the stream left them (its watermark stays).
UPDATE otto.market_mmy g SET s = x.s
  FROM (SELECT m.make, m.model, m.year, otto.vec_sum(otto.market_terms(m)) AS s FROM otto.market_ad m
         WHERE m.make IS NOT NULL AND m.model IS NOT NULL GROUP BY 1, 2, 3) x
 WHERE g.make = x.make AND g.model = x.model AND g.year IS NOT DISTINCT FROM x.year;
UPDATE otto.market_mm g SET s = x.s
  FROM (SELECT m.make, m.model, otto.vec_sum(m.s) AS s FROM otto.market_mmy m GROUP BY 1, 2) x
 WHERE g.make = x.make AND g.model = x.model;
