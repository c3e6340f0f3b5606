/** The manifests module: load YAML from a repository snapshot, validate, default, build the desired state. */
export { loadDesired, isManifestFile } from './load.ts';
export type { LoadOptions } from './load.ts';
export { parseManifests } from './parse.ts';
export { parseMemory, parseCpu, parseDuration, formatDuration, formatMemory } from './quantity.ts';
export { PROBE_DEFAULTS, UPDATE_DEFAULTS, PROBE_KINDS, PROBE_TYPES } from './probes.ts';
export { specHash, canonicalJson } from './spec-hash.ts';
export type { SpecHashInput } from './spec-hash.ts';
export { HOST_GATEWAY, envPrefix, discoveryVariables, serviceEnv } from './discovery.ts';
export type { DiscoveryTarget } from './discovery.ts';
export { firstTcpPort, hashKeyNeedsHttp } from './load-balancer.ts';
export { CONSTRAINT_PATTERN, PLACEMENT_DEFAULTS, parseConstraint, satisfies, satisfiesAll } from './placement.ts';
export type { ConstraintTarget } from './placement.ts';
