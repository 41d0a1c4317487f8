// The MLflow REST entities the UI reads, as ferroflow sends them (JSON, proto3 names).

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: 'active' | 'deleted';
  last_update_time?: number;
  creation_time?: number;
  tags?: KeyValue[];
}

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: 'active' | 'deleted';
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  run_id?: string;
}

export interface Dataset {
  name: string;
  digest: string;
  source_type?: string;
  source?: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  tags?: KeyValue[];
  dataset: Dataset;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: {
    dataset_inputs?: DatasetInput[];
    model_inputs?: { model_id: string }[];
  };
  outputs?: { model_outputs?: { model_id: string; step?: number }[] };
}

/** An MLflow 3 logged model (`logged-models/search`). */
export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri?: string;
    creation_timestamp_ms?: number;
    status?: string;
    model_type?: string;
    source_run_id?: string;
    tags?: KeyValue[];
  };
  data?: { params?: KeyValue[]; metrics?: Metric[] };
}

export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  /** MLflow 3: the logged model this version registers. */
  model_id?: string;
  status?: string;
  tags?: KeyValue[];
  aliases?: string[];
}

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: { alias: string; version: string }[];
}

export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

// ---- authentication (`--auth`)

export type PermissionLevel = 'READ' | 'USE' | 'EDIT' | 'MANAGE' | 'NO_PERMISSIONS';
export type ResourceType = 'experiment' | 'registered_model';

export interface UserSummary {
  id: number;
  username: string;
  is_admin: boolean;
}

/** A user with their grants, as `users/get` and the session answer it. */
export interface AuthUser extends UserSummary {
  experiment_permissions?: {
    experiment_id: string;
    user_id: number;
    permission: PermissionLevel;
  }[];
  registered_model_permissions?: { name: string; user_id: number; permission: PermissionLevel }[];
}

export interface Session {
  user: AuthUser;
  csrf_token?: string | null;
}

/** The caller's own level on one experiment or model (`permissions/mine`). */
export interface MyPermission {
  permission: PermissionLevel;
  can_read: boolean;
  can_update: boolean;
  can_delete: boolean;
  can_manage: boolean;
  is_admin: boolean;
}

export interface AccessToken {
  id: string;
  name: string;
  created_at: number;
  expires_at?: number | null;
}
