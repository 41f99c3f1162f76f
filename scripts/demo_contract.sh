# demo_contract.sh: the demo's contract, shared by scripts/demo.sh and
# bench/load.sh so the benchmark measures what the demo shows. Source it,
# then `demo_contract NAME PURPOSE > contract.json` in a directory holding
# publisher.pub and advertiser.pub: the publisher provides impressions, the
# advertiser provides purchases and is the analyst; threshold k = 50.
demo_contract() {
  cat <<JSON
{
  "dcr_contract": 1,
  "name": "$1",
  "version": 1,
  "purpose": "$2",
  "development": true,
  "parties": [
    {"name": "publisher", "roles": ["provider"], "public_key": "$(cat publisher.pub)"},
    {"name": "advertiser", "roles": ["provider", "analyst", "receiver"], "public_key": "$(cat advertiser.pub)"}
  ],
  "datasets": [
    {"name": "impressions", "owner": "publisher", "privacy_unit": "email",
     "columns": [
       {"name": "email", "type": "TEXT", "role": "id", "normalize": ["trim", "lower"]},
       {"name": "campaign", "type": "TEXT", "role": "dimension"},
       {"name": "ts", "type": "TIMESTAMP", "role": "dimension"},
       {"name": "amount", "type": "DOUBLE PRECISION", "role": "metric", "bounds": [0, 1000]}
     ]},
    {"name": "purchases", "owner": "advertiser", "privacy_unit": "email",
     "columns": [
       {"name": "email", "type": "TEXT", "role": "id", "normalize": ["trim", "lower"]},
       {"name": "amount", "type": "DOUBLE PRECISION", "role": "metric", "bounds": [0, 500]},
       {"name": "ts", "type": "TIMESTAMP", "role": "dimension"}
     ]}
  ],
  "rules": {
    "aggregation": {
      "min_units": 50,
      "aggregates": {
        "impressions.email": ["COUNT_DISTINCT"],
        "purchases.email": ["COUNT_DISTINCT"],
        "purchases.amount": ["COUNT", "SUM", "AVG"]
      },
      "joins": [{"left": "impressions.email", "right": "purchases.email"}]
    },
    "receivers": {"advertiser": ["advertiser"]}
  },
  "evidence": [{"type": "sim"}]
}
JSON
}
