# demo_contract.sh: the demo's contract, shared by scripts/demo.sh and
# bench/load.sh so the benchmark measures what the demo shows. Source it,
# then `demo_contract NAME PURPOSE [dp] > contract.json` in a directory
# holding publisher.pub and advertiser.pub: the publisher provides
# impressions, the advertiser provides purchases and is the analyst;
# threshold k = 50. With `dp` the contract adds differential privacy
# (epsilon 0.5 per query, delta 1e-6, a budget of 1.0: three answers under
# zCDP composition, docs/privacy.md), and analysts may write their own SQL.
# Without it the threshold alone protects, so (docs/privacy.md, "Modes") the
# analyst runs only the templates below, which both parties approved: the
# demo's three questions, with the number of rows shown as a parameter.
DEMO_SQL_ATTRIBUTION="SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers, SUM(p.amount) AS revenue FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY revenue DESC LIMIT 8"
DEMO_SQL_REACHED="SELECT COUNT(DISTINCT p.email) AS buyers_reached FROM purchases p JOIN impressions i ON i.email = p.email"
DEMO_SQL_REACH="SELECT i.campaign, COUNT(DISTINCT i.email) AS reach, COUNT(*) AS impressions_on_buyers FROM impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY reach DESC LIMIT 8"

demo_dp_rules() {
  if [[ "$1" != dp ]]; then
    printf ',\n    "templates": [\n'
    printf '      {"name": "attribution", "sql": "%s"},\n' "$DEMO_SQL_ATTRIBUTION"
    printf '      {"name": "buyers_reached", "sql": "%s"},\n' "$DEMO_SQL_REACHED"
    printf '      {"name": "reach", "sql": "%s"}\n    ]' "$DEMO_SQL_REACH"
    return 0
  fi
  printf ',\n    "differential_privacy": {"enabled": true, "epsilon_per_query": 0.5, "delta": 1e-6,\n      "budget_per_analyst": 1.0, "max_contributions_per_unit": 10}'
}

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
    "receivers": {"advertiser": ["advertiser"]}$(demo_dp_rules "${3:-}")
  },
  "evidence": [{"type": "sim"}]
}
JSON
}
