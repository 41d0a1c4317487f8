// Reading an MLflow model's MLmodel file (YAML): its flavors, signature and Python version.
import { parse, parseAllDocuments } from 'yaml';

export interface SignatureColumn {
  name?: string;
  type: string;
  required?: boolean;
}

export interface MLmodelSummary {
  flavors: { name: string; details: [string, string][] }[];
  pythonVersion?: string;
  mlflowVersion?: string;
  modelId?: string;
  created?: string;
  signature?: {
    inputs?: SignatureColumn[];
    outputs?: SignatureColumn[];
    params?: SignatureColumn[];
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) =>
  v === undefined || v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** Parses YAML text; `undefined` when it is not valid YAML or not a mapping. */
export function parseYamlObject(text: string | undefined): Obj | undefined {
  if (text === undefined) return undefined;
  try {
    const v = parse(text, { maxAliasCount: 100 });
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The first error of YAML text (all its documents), or `undefined` when it parses. */
export function yamlProblem(text: string): string | undefined {
  try {
    const docs = parseAllDocuments(text);
    for (const doc of Array.isArray(docs) ? docs : [docs])
      if (doc.errors.length) return doc.errors[0].message.split('\n')[0];
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function columns(spec: unknown): SignatureColumn[] | undefined {
  if (spec === undefined || spec === null) return undefined;
  let list: unknown = spec;
  if (typeof spec === 'string') {
    try {
      list = JSON.parse(spec);
    } catch {
      return [{ type: spec }];
    }
  }
  if (!Array.isArray(list)) return undefined;
  return list.map((c) => {
    if (!isObj(c)) return { type: String(c) };
    let type = str(c.type) ?? '?';
    const t = c['tensor-spec'];
    if (isObj(t)) type = `tensor ${str(t.dtype) ?? ''} ${JSON.stringify(t.shape ?? [])}`.trim();
    else if (type === 'array' && c.items !== undefined)
      type = `array<${str(isObj(c.items) ? c.items.type : c.items)}>`;
    return {
      name: str(c.name),
      type,
      required: typeof c.required === 'boolean' ? c.required : undefined,
    };
  });
}

export function summariseMLmodel(text: string): MLmodelSummary | undefined {
  const doc = parseYamlObject(text);
  if (!doc) return undefined;
  const flavors = isObj(doc.flavors) ? doc.flavors : {};
  const pyfunc = isObj(flavors.python_function) ? flavors.python_function : {};
  const sig = isObj(doc.signature) ? doc.signature : undefined;
  return {
    flavors: Object.entries(flavors).map(([name, f]) => ({
      name,
      details: isObj(f)
        ? Object.entries(f)
            .filter(([, v]) => v !== null && v !== undefined && !isObj(v))
            .map(([k, v]) => [k, str(v) ?? ''] as [string, string])
        : [],
    })),
    pythonVersion: str(pyfunc.python_version),
    mlflowVersion: str(doc.mlflow_version),
    modelId: str(doc.model_id ?? doc.model_uuid),
    created: str(doc.utc_time_created),
    signature: sig && {
      inputs: columns(sig.inputs),
      outputs: columns(sig.outputs),
      params: columns(sig.params),
    },
  };
}
