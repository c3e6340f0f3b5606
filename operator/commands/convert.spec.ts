import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { composeToYaml } from './convert.ts';
import { parseEntries } from '../manifests/parse.ts';

describe('composeToYaml', () => {
  it('prints the berth manifests, which parse back into the same manifests', () => {
    const out = composeToYaml('/repo/shop/compose.yaml', 'services:\n  web:\n    image: "web:${TAG}"\n    ports: ["8080:80"]\nvolumes:\n  data:\n', 'TAG=2\n');
    expect(out.errors).toEqual([]);
    expect(out.yaml.split('\n')[0]).toBe('# berth manifests converted from shop/compose.yaml by berth convert');
    const docs = parseAllDocuments(out.yaml) as { toJS(): unknown }[];
    expect(docs.map((d) => (d.toJS() as { kind: string }).kind)).toEqual(['Volume', 'Service']);
    const back = parseEntries([{ path: 'shop/berth.yaml', content: out.yaml }]);
    expect(back.issues).toEqual([]);
    expect(back.entries.map((e) => e.manifest?.spec)).toEqual(parseEntries([{ path: 'shop/compose.yaml', content: 'services:\n  web:\n    image: "web:2"\n    ports: ["8080:80"]\nvolumes:\n  data:\n' }]).entries.map((e) => e.manifest?.spec));
  });

  it('prints a service depended on with service_completed_successfully as a Job, which parses back', () => {
    const compose = 'services:\n  migrate:\n    image: tools:1\n    command: [migrate, up]\n  web:\n    image: web:1\n    depends_on:\n      migrate: { condition: service_completed_successfully }\n';
    const out = composeToYaml('/repo/shop/compose.yaml', compose);
    expect(out.errors).toEqual([]);
    const docs = (parseAllDocuments(out.yaml) as { toJS(): unknown }[]).map((d) => d.toJS() as { kind: string; spec: Record<string, unknown> });
    expect(docs.map((d) => d.kind)).toEqual(['Job', 'Service']);
    expect(docs[0]).toMatchObject({ kind: 'Job', metadata: { name: 'migrate', namespace: 'shop' }, spec: { image: 'tools:1', command: ['migrate', 'up'], backoffLimit: 0 } });
    expect(docs[1]?.spec.dependsOn).toEqual(['migrate']);
    const back = parseEntries([{ path: 'shop/berth.yaml', content: out.yaml }]);
    expect(back.issues).toEqual([]);
    expect(back.entries.map((e) => `${e.kind} ${e.name}`)).toEqual(['Job migrate', 'Service web']);
  });

  it('gives the errors and warnings instead', () => {
    const out = composeToYaml('/repo/shop/compose.yaml', 'services:\n  web:\n    image: "web${TAG}"\n    domainname: x\n');
    expect(out.yaml).toBe('');
    expect(out.errors).toEqual(['shop/compose.yaml:4:5: services.web.domainname: compose field services.web.domainname is not supported by berth']);
    expect(out.warnings).toEqual(['shop/compose.yaml:3: warning: variable TAG is not set: it is an empty string (as compose does) (services.web.image)']);
  });
});
