// Validate Grafana dashboards against Grafana's published schema, the @grafana/schema package: its TypeScript
// types (the Dashboard, and each panel plugin's Options and FieldConfig) are turned into JSON Schema by
// ts-json-schema-generator and checked with ajv. Unknown keys, wrong types and values outside an enum fail.
// Panel options may leave keys out (Grafana merges stored options over the plugin's defaults), so "required"
// is not enforced for them; the dashboard's own required keys are.
//
//   node dashboards/schema/validate.mjs dashboards/grafana/*.json     (exit 1 and one line per problem)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Ajv from "ajv";
import { createGenerator } from "ts-json-schema-generator";

const require = createRequire(import.meta.url);
const RAW = path.join(path.dirname(require.resolve("@grafana/schema/package.json")), "dist", "types", "raw");
const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map();

function withoutRequired(node) {
  if (Array.isArray(node)) return node.map(withoutRequired);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(Object.entries(node)
    .filter(([key, value]) => !(key === "required" && Array.isArray(value)))
    .map(([key, value]) => [key, withoutRequired(value)]));
}

function validator(file, type, required = true) {
  const key = `${file}#${type}`;
  if (!compiled.has(key)) {
    const schema = createGenerator({ path: path.join(RAW, file), type, skipTypeCheck: true, topRef: true })
      .createSchema(type);
    compiled.set(key, ajv.compile(required ? schema : withoutRequired(schema)));
  }
  return compiled.get(key);
}

function report(where, validate) {
  return validate.errors.map((e) => `${where}${e.instancePath || "/"}: ${e.message} ${JSON.stringify(e.params)}`);
}

const problems = [];
for (const file of process.argv.slice(2)) {
  const dashboard = JSON.parse(readFileSync(file, "utf8"));
  const whole = validator("dashboard/x/types.gen.d.ts", "Dashboard");
  if (!whole(dashboard)) problems.push(...report(`${file}: dashboard`, whole));
  for (const panel of dashboard.panels ?? []) {
    const plugin = String(panel.type ?? "").replaceAll("-", "");
    const types = path.join("composable", plugin, "panelcfg", "x", "types.gen.d.ts");
    for (const [type, value] of [["Options", panel.options], ["FieldConfig", panel.fieldConfig?.defaults?.custom]]) {
      if (value === undefined) continue;
      let validate;
      try {
        validate = validator(types, type, false);
      } catch (err) {
        problems.push(`${file}: panel «${panel.title}»: no ${type} schema for panel type ${panel.type}`);
        continue;
      }
      if (!validate(value)) problems.push(...report(`${file}: panel «${panel.title}» ${type}`, validate));
    }
  }
}
for (const line of problems) console.log(line);
console.log(problems.length ? `${problems.length} problem(s)` : `${process.argv.length - 2} dashboard(s) valid`);
process.exit(problems.length ? 1 : 0);
