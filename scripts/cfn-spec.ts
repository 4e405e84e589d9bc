/**
 * A CloudFormation template checked against CloudFormation's resource specification, as AWS CDK
 * publishes it on npm (@aws-cdk/aws-service-spec: the CloudFormation registry schemas of every
 * resource type, rebuilt and released every few days). What it finds, each problem naming the
 * resource and the property path:
 * - a resource type that does not exist, a resource attribute other than CloudFormation's own;
 * - a property name that the type (or the nested property type) does not have, at any depth;
 * - a required property that is missing;
 * - a value of the wrong shape: an object where a list or a scalar belongs, and so on (intrinsic
 *   functions stand for any value; both branches of an Fn::If are checked);
 * - a string outside a property's allowed values;
 * - Ref, Fn::GetAtt and Fn::Sub naming a resource, parameter or attribute that does not exist, a
 *   Condition or DependsOn naming nothing.
 * It does not evaluate intrinsic functions, or check values beyond their shape.
 */
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type PropType =
  | { type: 'string'; allowedValues?: string[] }
  | { type: 'integer'; allowedValues?: number[] }
  | { type: 'number' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: PropType }
  | { type: 'union'; types: PropType[] };
interface Property {
  type: PropType;
  required?: boolean;
}
interface ResourceSpec {
  properties: Record<string, Property>;
  attributes: Record<string, unknown>;
}

export interface Spec {
  resource(type: string): ResourceSpec | undefined;
  definition(ref: string): { name: string; properties: Record<string, Property> } | undefined;
}

export interface Problem {
  where: string;
  message: string;
}

/** The specification from @aws-cdk/aws-service-spec (about half a second and 80 MB to load). */
export function loadSpec(): Spec {
  const db = loadAwsServiceSpecSync();
  return {
    resource: (type) => db.lookup('resource', 'cloudFormationType', 'equals', type)[0] as unknown as ResourceSpec | undefined,
    definition: (ref) => {
      try {
        return db.get('typeDefinition', ref) as unknown as { name: string; properties: Record<string, Property> };
      } catch {
        return undefined;
      }
    },
  };
}

const TEMPLATE_KEYS = ['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs', 'Rules'];
const RESOURCE_KEYS = ['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy'];
const POLICIES = ['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot'];
const isObject = (v: Json | undefined): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
/** {Ref: …} or {Fn::…: …}: a value CloudFormation computes, of any type. */
const intrinsic = (v: Json | undefined): v is { [k: string]: Json } => isObject(v) && Object.keys(v).length === 1 && /^(Ref|Fn::|Condition$)/.test(Object.keys(v)[0]!);
const NO_VALUE = JSON.stringify({ Ref: 'AWS::NoValue' });

export function validateTemplate(template: Json, spec: Spec): Problem[] {
  const problems: Problem[] = [];
  const problem = (where: string, message: string) => problems.push({ where, message });
  if (!isObject(template) || !isObject(template.Resources)) return [{ where: 'template', message: 'has no Resources object' }];
  for (const k of Object.keys(template)) if (!TEMPLATE_KEYS.includes(k)) problem('template', `unknown top-level section "${k}"`);
  const resources = template.Resources;
  const parameters = isObject(template.Parameters) ? template.Parameters : {};
  const conditions = isObject(template.Conditions) ? template.Conditions : {};

  /** Ref, Fn::GetAtt and Fn::Sub targets anywhere under `v`. */
  const checkReferences = (v: Json, where: string) => {
    if (Array.isArray(v)) return v.forEach((x, i) => checkReferences(x, `${where}[${i}]`));
    if (!isObject(v)) return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Ref' && typeof x === 'string') {
        if (!x.startsWith('AWS::') && !(x in resources) && !(x in parameters)) problem(where, `Ref to "${x}", which is no resource or parameter`);
      } else if (k === 'Fn::GetAtt') {
        const [target, attribute] = Array.isArray(x) ? x : typeof x === 'string' ? x.split(/\.(.*)/s) : [];
        if (typeof target === 'string' && typeof attribute === 'string') getAtt(target, attribute, where);
      } else if (k === 'Fn::Sub') {
        const text = Array.isArray(x) ? x[0] : x;
        const vars = Array.isArray(x) && isObject(x[1]) ? x[1] : {};
        if (typeof text === 'string') {
          for (const [, name] of text.matchAll(/\$\{(?!!)([^}]+)\}/g)) {
            const [target, attribute] = name!.split(/\.(.*)/s);
            if (name! in vars || target!.startsWith('AWS::')) continue;
            if (attribute !== undefined) getAtt(target!, attribute, where);
            else if (!(target! in resources) && !(target! in parameters)) problem(where, `Fn::Sub names "\${${name}}", which is no resource, parameter or variable`);
          }
        }
      } else if ((k === 'Condition' && typeof x === 'string' && where.includes('Fn::')) || (k === 'Fn::If' && Array.isArray(x) && typeof x[0] === 'string')) {
        const name = k === 'Condition' ? (x as string) : ((x as Json[])[0] as string);
        if (!(name in conditions)) problem(where, `condition "${name}" is not defined`);
      }
      checkReferences(x, `${where}.${k}`);
    }
  };
  const getAtt = (target: string, attribute: string, where: string) => {
    const r = resources[target];
    if (!isObject(r)) return problem(where, `Fn::GetAtt of "${target}", which is no resource`);
    const type = spec.resource(String(r.Type));
    if (type && !(attribute in type.attributes) && !String(r.Type).startsWith('Custom::')) {
      problem(where, `${r.Type} has no attribute "${attribute}" (it has ${Object.keys(type.attributes).join(', ') || 'none'})`);
    }
  };

  /** `value` against `t`: problems found, kept apart so that a union can try each of its types. */
  const checkValue = (value: Json, t: PropType, where: string, out: Problem[]): void => {
    if (JSON.stringify(value) === NO_VALUE) return;
    if (intrinsic(value)) {
      const [fn, args] = Object.entries(value)[0]!;
      if (fn === 'Fn::If' && Array.isArray(args) && args.length === 3) {
        checkValue(args[1]!, t, `${where}(if true)`, out);
        checkValue(args[2]!, t, `${where}(if false)`, out);
      }
      return;
    }
    const wrong = (expected: string): void => {
      out.push({ where, message: `must be ${expected}, not ${Array.isArray(value) ? 'a list' : isObject(value) ? 'an object' : JSON.stringify(value)}` });
    };
    switch (t.type) {
      case 'json':
        return;
      case 'union': {
        // A `json` member beside a structured one (a list, a map, a property type) is the
        // specification's fallback for a property whose schema was made stricter: the value must
        // fit the structured one. Beside scalars only (a policy document: a string or JSON), JSON is meant.
        const structured = t.types.some((u) => ['array', 'map', 'ref', 'tag'].includes(u.type));
        const typed = structured ? t.types.filter((u) => u.type !== 'json') : [];
        const tries = (typed.length ? typed : t.types).map((u) => {
          const found: Problem[] = [];
          checkValue(value, u, where, found);
          return found;
        });
        if (!tries.some((f) => f.length === 0)) out.push(...tries.sort((a, b) => a.length - b.length)[0]!);
        return;
      }
      case 'array':
        if (!Array.isArray(value)) return wrong('a list');
        return value.forEach((x, i) => checkValue(x, t.element, `${where}[${i}]`, out));
      case 'map':
        if (!isObject(value)) return wrong('an object (a map)');
        return Object.entries(value).forEach(([k, x]) => checkValue(x, t.element, `${where}.${k}`, out));
      case 'tag':
        return checkObject(value, { Key: { type: { type: 'string' }, required: true }, Value: { type: { type: 'string' }, required: true } }, where, out, 'a tag');
      case 'ref': {
        const def = spec.definition(t.reference.$ref);
        if (!def) return;
        return checkObject(value, def.properties, where, out, def.name);
      }
      default:
        if (Array.isArray(value) || isObject(value)) return wrong(`a ${t.type === 'null' ? 'null' : t.type}`);
        if ((t.type === 'string' || t.type === 'integer') && t.allowedValues?.length && !(t.allowedValues as (string | number)[]).some((a) => String(a) === String(value))) {
          out.push({ where, message: `${JSON.stringify(value)} is not one of ${t.allowedValues.join(', ')}` });
        }
    }
  };
  const checkObject = (value: Json, properties: Record<string, Property>, where: string, out: Problem[], what: string) => {
    if (!isObject(value)) {
      out.push({ where, message: `must be an object (${what}), not ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}` });
      return;
    }
    for (const [k, x] of Object.entries(value)) {
      const p = properties[k];
      if (!p) out.push({ where: `${where}.${k}`, message: `unknown property of ${what} (known: ${Object.keys(properties).sort().join(', ')})` });
      else checkValue(x, p.type, `${where}.${k}`, out);
    }
    for (const [k, p] of Object.entries(properties)) if (p.required && !(k in value)) out.push({ where, message: `${what} requires "${k}"` });
  };

  for (const [id, r] of Object.entries(resources)) {
    const where = `Resources.${id}`;
    if (!isObject(r) || typeof r.Type !== 'string') {
      problem(where, 'has no Type');
      continue;
    }
    for (const k of Object.keys(r)) if (!RESOURCE_KEYS.includes(k)) problem(where, `unknown resource attribute "${k}" (known: ${RESOURCE_KEYS.join(', ')})`);
    for (const k of ['DeletionPolicy', 'UpdateReplacePolicy']) if (r[k] !== undefined && !POLICIES.includes(String(r[k]))) problem(`${where}.${k}`, `must be one of ${POLICIES.join(', ')}`);
    if (r.Condition !== undefined && !(String(r.Condition) in conditions)) problem(`${where}.Condition`, `condition "${r.Condition}" is not defined`);
    for (const d of [r.DependsOn ?? []].flat()) if (!(String(d) in resources)) problem(`${where}.DependsOn`, `"${d}" is no resource`);
    checkReferences(r.Properties ?? {}, `${where}.Properties`);
    if (r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource') continue;
    const type = spec.resource(r.Type);
    if (!type) {
      problem(where, `resource type ${r.Type} does not exist in CloudFormation's specification`);
      continue;
    }
    checkObject(r.Properties ?? {}, type.properties, `${where}.Properties`, problems, r.Type);
  }
  for (const [id, o] of Object.entries(isObject(template.Outputs) ? template.Outputs : {})) {
    checkReferences(o, `Outputs.${id}`);
    if (isObject(o) && o.Condition !== undefined && !(String(o.Condition) in conditions)) problem(`Outputs.${id}.Condition`, `condition "${o.Condition}" is not defined`);
  }
  for (const [id, c] of Object.entries(conditions)) checkReferences(c, `Conditions.${id}`);
  return problems;
}
