-- Graph store, plain-SQL implementation (seed: "Graph Data Modeling"): the relational
-- web, the narrative graph and the setting topology as one vertex table and one edge
-- table, queried with recursive CTEs. Runs on PostgreSQL and PGlite. Apache AGE keeps its
-- own graph `storyteller`, created by AgeGraphStore.ensureSchema() when the extension
-- exists; nothing here depends on AGE.
--
-- `scope` is a story id (the authored baseline) or a session id (the session's copy).
-- Ids are the author's string ids; a vertex is (scope, label, id).

CREATE TABLE graph_vertices (
    scope          TEXT NOT NULL,
    label          TEXT NOT NULL CHECK (label IN ('Character', 'Entity', 'Scene', 'Setting', 'Zone')),
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    -- Scene properties (NULL for other labels).
    scene_type     TEXT CHECK (scene_type IN ('gravitational', 'gate', 'connective', 'threshold')),
    authored_mass  DOUBLE PRECISION,
    cast_ids       TEXT[],
    PRIMARY KEY (scope, label, id),
    CHECK ((label = 'Scene') = (scene_type IS NOT NULL AND authored_mass IS NOT NULL AND cast_ids IS NOT NULL))
);

CREATE TABLE graph_edges (
    scope              TEXT NOT NULL,
    label              TEXT NOT NULL,
    from_label         TEXT NOT NULL,
    from_id            TEXT NOT NULL,
    to_label           TEXT NOT NULL,
    to_id              TEXT NOT NULL,
    -- RELATES_TO attributes, each in [-1, 1].
    trust_reliability  DOUBLE PRECISION,
    trust_competence   DOUBLE PRECISION,
    trust_benevolence  DOUBLE PRECISION,
    affection          DOUBLE PRECISION,
    debt               DOUBLE PRECISION,
    -- ADJACENT_TO attribute.
    traversal_cost     DOUBLE PRECISION,
    -- Leading with from_id (not scope): see the note on indexes below.
    PRIMARY KEY (from_id, scope, label, to_id, from_label),
    FOREIGN KEY (scope, from_label, from_id) REFERENCES graph_vertices (scope, label, id) ON DELETE CASCADE,
    FOREIGN KEY (scope, to_label, to_id) REFERENCES graph_vertices (scope, label, id) ON DELETE CASCADE,
    -- The seed's edge labels and the vertex labels they connect.
    CHECK (
        (label = 'RELATES_TO' AND from_label = 'Character' AND to_label = 'Character'
            AND trust_reliability IS NOT NULL AND trust_competence IS NOT NULL AND trust_benevolence IS NOT NULL
            AND affection IS NOT NULL AND debt IS NOT NULL)
        OR (label = 'LEADS_TO' AND from_label = 'Scene' AND to_label = 'Scene')
        OR (label = 'SCENE_AT' AND from_label = 'Scene' AND to_label = 'Setting')
        OR (label = 'ADJACENT_TO' AND from_label = 'Setting' AND to_label = 'Setting' AND traversal_cost IS NOT NULL)
        OR (label = 'CONTAINS' AND from_label IN ('Zone', 'Setting') AND to_label = 'Setting')
    )
);

-- Indexes lead with the vertex id, never with scope alone. A session's scope is new to
-- the planner's statistics (estimated at one row), and with an index on (scope, …) available
-- PostgreSQL would pick it and scan the whole scope for every lookup (measured 30–180 ms
-- instead of 0.1–3 ms at 1,000 characters). With id-led indexes every lookup is a probe.
-- The primary key serves outgoing traversal and the source foreign key's cascade; this one
-- serves reverse traversal (undirected paths, "who trusts X", SCENE_AT by setting) and the
-- target foreign key's cascade.
CREATE INDEX idx_graph_edges_to ON graph_edges (to_id, scope, label);
