//! MLflow's search language: filter strings and order_by clauses. (Being built.)
