/**
 * Checks Kubernetes and prometheus-operator manifests offline against the `kubernetes-models` packages: their
 * validate() (JSON schema: types, required fields, enums) and a strict TypeScript check of each document against
 * the package's interface, whose excess-property check catches a misspelled field that the schemas let through.
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The module that models `apiVersion`/`kind`, e.g. `kubernetes-models/apps/v1/DaemonSet`. */
export function modelModule(m: Pick<Manifest, 'apiVersion' | 'kind'>): string {
  const pkg = m.apiVersion.startsWith('monitoring.coreos.com/') ? '@kubernetes-models/prometheus-operator' : 'kubernetes-models';
  return `${pkg}/${m.apiVersion}/${m.kind}`;
}

type ModelClass = new (data: unknown) => { validate(): void };

/** Throws the schema's complaint about `m`. */
export async function validateManifest(m: Manifest): Promise<void> {
  const mod = (await import(modelModule(m))) as Record<string, ModelClass | undefined>;
  const Model = mod[m.kind];
  if (!Model) throw new Error(`${modelModule(m)} has no model ${m.kind}`);
  new Model(m).validate();
}

/** TypeScript's diagnostics for every manifest written as `const doc = {…} satisfies IKind` (empty: all typed). */
export function typeCheckManifests(manifests: Manifest[]): string[] {
  // Virtual files inside this directory, so that imports resolve against the project's node_modules.
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const files = new Map(manifests.map((m, i) => [
    `${dir}__manifest_${i}_${m.kind}.ts`,
    `import type { I${m.kind} } from '${modelModule(m)}';\n` +
    `export const doc = ${JSON.stringify(m, null, 2)} satisfies I${m.kind};\n`,
  ]));
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const disk = ts.createCompilerHost(options);
  const host: ts.CompilerHost = {
    ...disk,
    fileExists: (f) => files.has(f) || disk.fileExists(f),
    readFile: (f) => files.get(f) ?? disk.readFile(f),
    getSourceFile: (f, lang, ...rest) => {
      const text = files.get(f);
      return text === undefined ? disk.getSourceFile(f, lang, ...rest) : ts.createSourceFile(f, text, lang);
    },
  };
  const program = ts.createProgram([...files.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName.slice(dir.length)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}
