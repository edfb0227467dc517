-- Linkage (issue 4): persons, the decision log, blocking keys, models, review tasks.

-- A person's id is stable: it survives records joining and leaving. A person emptied by a
-- move is retired into the person that absorbed it, and its id resolves there.
CREATE TABLE person (
  id            uuid        NOT NULL DEFAULT gen_random_uuid(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  retired_into  uuid,
  retired_at    timestamptz,
  CONSTRAINT person_pk PRIMARY KEY (id),
  CONSTRAINT person_retired_into_fk FOREIGN KEY (retired_into) REFERENCES person (id),
  CONSTRAINT person_retired_pair_ck CHECK ((retired_into IS NULL) = (retired_at IS NULL)),
  CONSTRAINT person_not_into_self_ck CHECK (retired_into IS DISTINCT FROM id)
);

-- Append-only: every decision, automatic or a steward's. The current link is the latest row per record.
CREATE TABLE link_decision (
  id                  bigint           GENERATED ALWAYS AS IDENTITY,
  source_record_id    bigint           NOT NULL,
  person_id           uuid             NOT NULL,
  previous_person_id  uuid,
  action              text             NOT NULL,
  reason              text             NOT NULL,
  probability         double precision,
  weight              double precision,
  model_version       text             NOT NULL,
  explanation         jsonb            NOT NULL,
  flags               text[]           NOT NULL DEFAULT '{}',
  actor               text             NOT NULL,
  decided_at          timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT link_decision_pk PRIMARY KEY (id),
  CONSTRAINT link_decision_record_fk FOREIGN KEY (source_record_id) REFERENCES source_record (id),
  CONSTRAINT link_decision_person_fk FOREIGN KEY (person_id) REFERENCES person (id),
  CONSTRAINT link_decision_action_ck CHECK (action IN ('link', 'new', 'review', 'keep', 'move', 'split', 'locked'))
);
CREATE INDEX link_decision_record_idx ON link_decision (source_record_id, id);

-- The current link per record (a projection of link_decision, kept in the same transaction)
-- with the normalised demographics the engine compares.
CREATE TABLE linkage_record (
  source_record_id  bigint      NOT NULL,
  person_id         uuid        NOT NULL,
  decision_id       bigint      NOT NULL,
  normalised        jsonb       NOT NULL,
  locked            boolean     NOT NULL DEFAULT false,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT linkage_record_pk PRIMARY KEY (source_record_id),
  CONSTRAINT linkage_record_record_fk FOREIGN KEY (source_record_id) REFERENCES source_record (id),
  CONSTRAINT linkage_record_person_fk FOREIGN KEY (person_id) REFERENCES person (id),
  CONSTRAINT linkage_record_decision_fk FOREIGN KEY (decision_id) REFERENCES link_decision (id)
);
CREATE INDEX linkage_record_person_idx ON linkage_record (person_id);

CREATE TABLE blocking_key (
  key               text   NOT NULL,
  source_record_id  bigint NOT NULL,
  CONSTRAINT blocking_key_pk PRIMARY KEY (key, source_record_id),
  CONSTRAINT blocking_key_record_fk FOREIGN KEY (source_record_id) REFERENCES source_record (id)
);
CREATE INDEX blocking_key_record_idx ON blocking_key (source_record_id);

-- Name counts for term-frequency adjustment, refreshed in the background by the workers
-- (a count per record on the hot path would make every link wait on shared rows).
CREATE TABLE name_frequency (
  field    text    NOT NULL,
  value    text    NOT NULL,
  records  integer NOT NULL,
  CONSTRAINT name_frequency_pk PRIMARY KEY (field, value),
  CONSTRAINT name_frequency_field_ck CHECK (field IN ('first', 'last')),
  CONSTRAINT name_frequency_records_ck CHECK (records >= 0)
);

CREATE TABLE linkage_model (
  version       text        NOT NULL,
  params        jsonb       NOT NULL,
  active        boolean     NOT NULL DEFAULT false,
  trained_on    integer,
  created_at    timestamptz NOT NULL DEFAULT now(),
  activated_at  timestamptz,
  CONSTRAINT linkage_model_pk PRIMARY KEY (version)
);
CREATE UNIQUE INDEX linkage_model_one_active_idx ON linkage_model (active) WHERE active;

CREATE TABLE review_task (
  id                bigint           GENERATED ALWAYS AS IDENTITY,
  kind              text             NOT NULL,
  source_record_id  bigint           NOT NULL,
  person_ids        uuid[]           NOT NULL,
  probability       double precision,
  decision_id       bigint           NOT NULL,
  status            text             NOT NULL DEFAULT 'open',
  created_at        timestamptz      NOT NULL DEFAULT now(),
  resolved_at       timestamptz,
  resolved_by       text,
  CONSTRAINT review_task_pk PRIMARY KEY (id),
  CONSTRAINT review_task_record_fk FOREIGN KEY (source_record_id) REFERENCES source_record (id),
  CONSTRAINT review_task_decision_fk FOREIGN KEY (decision_id) REFERENCES link_decision (id),
  CONSTRAINT review_task_kind_ck CHECK (kind IN ('possible_match', 'possible_duplicate_persons', 'locked_link_conflict', 'constraint_conflict')),
  CONSTRAINT review_task_status_ck CHECK (status IN ('open', 'resolved', 'dismissed'))
);
CREATE INDEX review_task_open_idx ON review_task (created_at) WHERE status = 'open';
CREATE INDEX review_task_record_idx ON review_task (source_record_id);

-- Steward constraints; each side is 'r:<source_record id>' or 'p:<person id>'.
CREATE TABLE steward_constraint (
  id          bigint      GENERATED ALWAYS AS IDENTITY,
  kind        text        NOT NULL,
  a           text        NOT NULL,
  b           text        NOT NULL,
  actor       text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  CONSTRAINT steward_constraint_pk PRIMARY KEY (id),
  CONSTRAINT steward_constraint_kind_ck CHECK (kind IN ('must_link', 'must_not_link')),
  CONSTRAINT steward_constraint_sides_ck CHECK (a ~ '^[rp]:' AND b ~ '^[rp]:' AND a <> b)
);
CREATE INDEX steward_constraint_a_idx ON steward_constraint (a) WHERE revoked_at IS NULL;
CREATE INDEX steward_constraint_b_idx ON steward_constraint (b) WHERE revoked_at IS NULL;
