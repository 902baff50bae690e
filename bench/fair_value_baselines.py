#!/usr/bin/python3
"""bench/fair_value_baselines.py: the baselines of bench/fair_value.sh, and the scoring of all.

    fair_value_baselines.py SPLIT DIR

DIR holds train.csv and test.csv (id, price, truth, car: otto.ad's columns in
JSON) and otto.csv (id, estimate, lo, hi: what otto.fair_value said of each
test car).  On the same rows, two standard gradient-boosted models are
trained on the training cars' log prices with the same features Otto's model
reads (otto.price_features): XGBoost (Debian's python3-xgboost, native
categorical splits, 800 rounds of depth 6, eta 0.05, subsample and column
sample 0.8) and scikit-learn's HistGradientBoostingRegressor (800 iterations,
learning rate 0.05, the categorical features of at most 255 values as
categories, the rest as codes).  Their 80% intervals are quantile models
(0.1 and 0.9) of the same kind.  Every estimate is scored against the truth
column (the simulator's hidden value) when there is one, else the asking
price, also in the cheapest band two ways: the cars worth under 1,500 EUR
(selected on the truth) and the cars estimated under 1,500 EUR; one JSON
line per method goes to stdout.
"""
import csv
import json
import math
import sys

import numpy as np
import xgboost as xgb
from sklearn.ensemble import HistGradientBoostingRegressor

CAT = ["make", "model", "fuel", "body", "gearbox", "drive", "seller_type", "region", "damage",
       "emission_class", "color", "doors", "air_conditioning", "origin"]
NUM = ["year", "mileage_km", "power_kw", "engine_cc", "seats", "equipment"]


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def features(rows, codes):
    """Categorical features as codes (shared dictionary, new values get new codes), numeric as floats."""
    x = np.full((len(rows), len(CAT) + len(NUM)), np.nan)
    for i, r in enumerate(rows):
        car = json.loads(r["car"])
        for j, k in enumerate(CAT):
            v = car.get(k)
            if k == "model" and v is not None:
                v = (car.get("make"), v)
            if v is not None:
                x[i, j] = codes[j].setdefault(v, len(codes[j]))
        for j, k in enumerate(NUM):
            v = car.get(k) if k != "equipment" else (len(car["features"]) if car.get("features") else None)
            if k == "mileage_km" and v is not None and not 1 <= v <= 1000000:
                v = None
            if v is not None:
                x[i, len(CAT) + j] = float(v)
    return x


def pinball(alpha):
    """XGBoost 1.7 has no quantile objective: the pinball loss's gradient, unit hessian."""
    def obj(pred, dtrain):
        y = dtrain.get_label()
        return np.where(pred >= y, 1 - alpha, -alpha), np.ones_like(pred)
    return obj


def scores(name, est, lo, hi, truth, price):
    ok = ~np.isnan(est)
    ape = np.abs(est[ok] / truth[ok] - 1)
    signed_cheap = (est / truth - 1)[ok & (truth < 1500)]
    signed_est_cheap = (est / truth - 1)[ok & (est < 1500)]
    r = {"method": name, "n": int(len(est)), "coverage_pct": round(100.0 * ok.mean(), 2),
         "mdape_pct": round(100 * float(np.median(ape)), 2),
         "cheap_n": int(len(signed_cheap)),
         "cheap_median_signed_pct": round(100 * float(np.median(signed_cheap)), 2) if len(signed_cheap) else None,
         "est_cheap_n": int(len(signed_est_cheap)),
         "est_cheap_median_signed_pct": round(100 * float(np.median(signed_est_cheap)), 2) if len(signed_est_cheap) else None}
    if lo is not None:
        inside = (price >= lo) & (price <= hi)
        r["range_80_holds_pct"] = round(100.0 * inside[ok].mean(), 1)
    return r


def main():
    split, d = sys.argv[1], sys.argv[2]
    train, test = read(d + "/train.csv"), read(d + "/test.csv")
    otto = {r["id"]: r for r in read(d + "/otto.csv")}
    codes = [dict() for _ in CAT]
    xtr, xte = features(train, codes), features(test, codes)
    ytr = np.log([float(r["price"]) for r in train])
    price = np.array([float(r["price"]) for r in test])
    truth = np.array([float(r["truth"]) if r["truth"] else float(r["price"]) for r in test])
    ft = ["c"] * len(CAT) + ["q"] * len(NUM)
    dtr = xgb.DMatrix(xtr, label=ytr, feature_types=ft, enable_categorical=True)
    dte = xgb.DMatrix(xte, feature_types=ft, enable_categorical=True)
    params = dict(eta=0.05, max_depth=6, subsample=0.8, colsample_bytree=0.8, tree_method="hist",
                  max_cat_to_onehot=1, nthread=2, seed=0, base_score=float(np.mean(ytr)))
    xg = np.exp(xgb.train(params, dtr, 800).predict(dte))
    xq = [np.exp(xgb.train(dict(params, base_score=float(np.quantile(ytr, a))), dtr, 800, obj=pinball(a)).predict(dte))
          for a in (0.1, 0.9)]

    small = [j for j in range(len(CAT)) if len(codes[j]) <= 255]
    hgb = dict(max_iter=800, learning_rate=0.05, categorical_features=small, random_state=0)
    # HistGradientBoosting wants categories coded 0..254 and no NaN codes above them
    hg = np.exp(HistGradientBoostingRegressor(**hgb).fit(xtr, ytr).predict(xte))
    hq = [np.exp(HistGradientBoostingRegressor(loss="quantile", quantile=a, **hgb).fit(xtr, ytr).predict(xte))
          for a in (0.1, 0.9)]

    def col(k):
        return np.array([float(otto[r["id"]][k]) if otto.get(r["id"]) and otto[r["id"]][k] else np.nan for r in test])
    rows = [scores("otto.fair_value", col("estimate"), col("lo"), col("hi"), truth, price),
            scores("otto comparables alone", col("comparables"), None, None, truth, price),
            scores("otto price model alone", col("model"), None, None, truth, price),
            scores("XGBoost", xg, xq[0], xq[1], truth, price),
            scores("HistGradientBoosting", hg, hq[0], hq[1], truth, price)]
    for r in rows:
        r["split"] = split
        print(json.dumps(r))


if __name__ == "__main__":
    main()
