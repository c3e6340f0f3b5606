/**
 * One ContainerRuntime over every node of the pool: observe merges what each engine reports (each container
 * tagged with its node), container calls go to the node the container lives on, creates to the node the scheduler
 * chose, and volumes and networks exist on every reachable node. An engine that does not answer keeps its last observed
 * containers (so nothing is recreated while it may only be slow) until the pool declares it NotReady.
 *
 * Images reach the node that needs them: a create that finds its image missing pulls it there when it is a registry
 * image pinned to a digest (`name@sha256:..`), and otherwise, or when that pull fails (the node cannot reach the
 * registry), streams it from a node that has it (`docker save` | `docker load`); then creates again. At most
 * `pullConcurrency` pulls run on one node at once, and one pull of an image per node is ever in flight.
 */
import { BerthError, asBerthError } from '../model/errors.ts';
import type { ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume } from '../model/state.ts';
import type { Logger } from '../util/log.ts';
import type { NodePool, PoolNode } from './node-pool.ts';
import type { ContainerRuntime, CreateContainerSpec, EngineAuth, PullResult, RuntimeEvent } from './runtime.ts';
import { limiter, type Limiter } from '../util/limit.ts';

export interface MultiRuntimeOptions {
  /** Pulls in flight on one node at most (default 3). */
  pullConcurrency?: number;
  /** Credentials for the registry of `ref` (images/credentials.ts), for pulls the runtime starts by itself. */
  pullAuth?: (ref: string) => Promise<EngineAuth | undefined>;
}

export interface MultiRuntime extends ContainerRuntime {
  /** Nodes whose containers observe() served from the last answer (engine silent right now). */
  stale(): ReadonlySet<string>;
  /** Images streamed between nodes since start (for metrics and tests). */
  transfers(): { ref: string; from: string; to: string; ms: number }[];
}

export function createMultiRuntime(pool: NodePool, log: Logger, opts: MultiRuntimeOptions = {}): MultiRuntime {
  const pullLimits = new Map<string, Limiter>(); // node -> its pull slots
  const pulling = new Map<string, Promise<PullResult>>(); // `${ref}\0${node}` -> pull in flight
  const where = new Map<string, string>(); // container id -> node
  const lastSeen = new Map<string, ObservedState>(); // node -> its last observe()
  const staleNodes = new Set<string>();
  const transfers: { ref: string; from: string; to: string; ms: number }[] = [];
  const delivering = new Map<string, Promise<void>>(); // `${ref}\0${node}` -> transfer in flight

  const nodeOf = (id: string): PoolNode => {
    const name = where.get(id);
    const node = name ? pool.get(name) : undefined;
    if (!node) throw new BerthError('E_DOCKER', `container ${id} is not on any known node`);
    return node;
  };
  /** Runs `fn` once per node for its containers of `ids` and merges the answers; a node that fails adds nothing. */
  const perNode = async <T>(ids: string[], fn: (rt: ContainerRuntime, list: string[]) => Promise<Record<string, T>>): Promise<Record<string, T>> => {
    const byNode = new Map<string, string[]>();
    for (const id of ids) {
      const node = where.get(id);
      if (node) byNode.set(node, [...(byNode.get(node) ?? []), id]);
    }
    const parts = await Promise.all([...byNode].map(([node, list]) => {
      const rt = pool.get(node)?.runtime;
      return rt ? fn(rt, list).catch(() => ({})) : {};
    }));
    return Object.assign({}, ...parts) as Record<string, T>;
  };
  /** Runs `fn` on the node of container `id`, telling the pool whether the engine answered. */
  const onContainer = async <T>(id: string, fn: (rt: ContainerRuntime) => Promise<T>): Promise<T> => {
    const node = nodeOf(id);
    return track(node, () => fn(node.runtime));
  };
  const track = async <T>(node: PoolNode, fn: () => Promise<T>): Promise<T> => {
    try {
      const out = await fn();
      pool.report(node.name, true);
      return out;
    } catch (err) {
      const e = asBerthError(err);
      if (e.code === 'E_DOCKER' && /unreachable|ECONNREFUSED|ENOENT|ETIMEDOUT|socket hang up|EHOSTUNREACH/i.test(e.message)) pool.report(node.name, false, e.message);
      throw err;
    }
  };
  const reachable = (): PoolNode[] => pool.nodes().filter((n) => n.state !== 'NotReady');
  const everywhere = async (what: string, fn: (rt: ContainerRuntime) => Promise<void>): Promise<void> => {
    const nodes = pool.nodes().filter((n) => n.state === 'Ready');
    const results = await Promise.allSettled(nodes.map((n) => track(n, () => fn(n.runtime))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${nodes[i]!.name}: ${asBerthError(r.reason).message}`] : []));
    if (failed.length) throw new BerthError('E_DOCKER', `${what} failed on ${failed.join('; ')}`);
  };

  async function deliver(ref: string, target: PoolNode): Promise<void> {
    const key = `${ref}\0${target.name}`;
    const inFlight = delivering.get(key);
    if (inFlight) return inFlight;
    const run = (async () => {
      for (const source of pool.nodes().filter((n) => n.state === 'Ready' && n.name !== target.name)) {
        let tar: NodeJS.ReadableStream;
        try {
          tar = await source.runtime.exportImage(ref);
        } catch (err) {
          if (asBerthError(err).code === 'E_IMAGE_MISSING') continue;
          throw err;
        }
        const started = performance.now();
        await target.runtime.importImage(tar, ref);
        const ms = performance.now() - started;
        transfers.push({ ref, from: source.name, to: target.name, ms });
        log.info('image delivered', { image: ref, from: source.name, to: target.name, ms: Math.round(ms) });
        return;
      }
      throw new BerthError('E_IMAGE_MISSING', `image ${ref} is on no node (a registry image is pulled before its replicas are created; a built or loaded one must be on some node)`, { terminal: true });
    })();
    delivering.set(key, run);
    try {
      await run;
    } finally {
      delivering.delete(key);
    }
  }

  /** One pull of `ref` on `node` at a time (a second caller shares it), within the node's pull slots. */
  function pullOn(ref: string, node: PoolNode, pullOpts: Parameters<ContainerRuntime['pullImage']>[1] = {}): Promise<PullResult> {
    const key = `${ref}\0${node.name}`;
    const inFlight = pulling.get(key);
    if (inFlight) return inFlight;
    let slots = pullLimits.get(node.name);
    if (!slots) pullLimits.set(node.name, (slots = limiter(opts.pullConcurrency ?? 3)));
    const run = slots.run(async () => ({ ...(await track(node, () => node.runtime.pullImage(ref, pullOpts))), node: node.name }));
    pulling.set(key, run);
    void run.then(() => pulling.delete(key), () => pulling.delete(key));
    return run;
  }

  /** A create's image is missing on `node`: pulled when pinned to a registry digest, else (or failing that) streamed from another node. */
  async function bringImage(ref: string, node: PoolNode): Promise<void> {
    if (!ref.includes('@')) return deliver(ref, node);
    try {
      const auth = await opts.pullAuth?.(ref);
      const r = await pullOn(ref, node, auth ? { auth } : {});
      log.info('image pulled', { image: ref, node: node.name, layers: r.layers, bytes: r.bytes, ms: Math.round(r.ms) });
    } catch (err) {
      const pullError = asBerthError(err);
      log.warn('pull failed; streaming the image from another node', { image: ref, node: node.name, error: pullError.message });
      try {
        await deliver(ref, node);
      } catch (deliverError) {
        if (asBerthError(deliverError).code === 'E_IMAGE_MISSING') throw pullError;
        throw deliverError;
      }
    }
  }

  return {
    stale: () => staleNodes,
    async pullImage(ref, pullOpts = {}) {
      const node = pullOpts.node ? pool.get(pullOpts.node) : pool.defaultNode();
      if (!node) throw new BerthError('E_DOCKER', `node ${pullOpts.node ?? '(default)'} is not known`);
      return pullOn(ref, node, pullOpts);
    },
    transfers: () => [...transfers],

    async ping() {
      await pool.pingAll();
      const ready = pool.nodes().filter((n) => n.state === 'Ready');
      if (!ready.length) throw new BerthError('E_DOCKER', `no node answers: ${pool.nodes().map((n) => `${n.name} (${n.error ?? n.state})`).join(', ')}`);
    },

    async observe(instance, imageRefs) {
      const nodes = reachable();
      const answers = await Promise.all(nodes.map(async (n) => {
        try {
          const o = await track(n, () => n.runtime.observe(instance, imageRefs));
          lastSeen.set(n.name, o);
          staleNodes.delete(n.name);
          return { node: n, o };
        } catch (err) {
          const cached = lastSeen.get(n.name);
          staleNodes.add(n.name);
          log.warn('node did not answer; using its last observed state', { node: n.name, error: asBerthError(err).message });
          return cached ? { node: n, o: cached } : null;
        }
      }));
      // NotReady nodes: their last known containers still count (diff moves their replicas elsewhere and removes
      // them once the node is back), but nothing is asked of the engine.
      for (const n of pool.nodes().filter((x) => x.state === 'NotReady')) {
        staleNodes.add(n.name);
        const cached = lastSeen.get(n.name);
        if (cached) answers.push({ node: n, o: cached });
      }
      const containers: ObservedContainer[] = [];
      const volumes = new Map<string, ObservedVolume>();
      const networkCount = new Map<string, { n: ObservedNetwork; count: number }>();
      const images: Record<string, string> = {};
      const localImages = new Set<string>();
      let fresh = 0;
      for (const a of answers) {
        if (!a) continue;
        for (const c of a.o.containers) {
          where.set(c.id, a.node.name);
          containers.push({ ...c, node: a.node.name });
        }
        if (staleNodes.has(a.node.name)) continue;
        fresh++;
        for (const v of a.o.volumes) volumes.set(v.name, v);
        for (const n of a.o.networks) networkCount.set(n.name, { n, count: (networkCount.get(n.name)?.count ?? 0) + 1 });
        for (const [ref, id] of Object.entries(a.o.images)) images[ref] ??= id;
        for (const ref of a.o.localImages ?? []) localImages.add(ref);
      }
      // A network counts as present only when every answering node has it (create-network then fills the gaps).
      const networks = [...networkCount.values()].filter((x) => x.count === fresh).map((x) => x.n);
      return { containers, volumes: [...volumes.values()], networks, images, localImages: [...localImages] };
    },

    async createContainer(spec: CreateContainerSpec) {
      const node = (spec.node ? pool.get(spec.node) : pool.defaultNode());
      if (!node) throw new BerthError('E_DOCKER', `node ${spec.node ?? '(default)'} is not known`);
      const create = () => track(node, () => node.runtime.createContainer(spec));
      let id: string;
      try {
        id = await create();
      } catch (err) {
        if (asBerthError(err).code !== 'E_IMAGE_MISSING') throw err;
        await bringImage(spec.image, node);
        id = await create();
      }
      where.set(id, node.name);
      return id;
    },
    startContainer: (id) => onContainer(id, (rt) => rt.startContainer(id)),
    stopContainer: (id, grace) => onContainer(id, (rt) => rt.stopContainer(id, grace)),
    removeContainer: (id) => onContainer(id, (rt) => rt.removeContainer(id)),
    renameContainer: (id, name) => onContainer(id, (rt) => rt.renameContainer(id, name)),
    unpauseContainer: (id) => onContainer(id, (rt) => rt.unpauseContainer(id)),
    updateContainer: (id, update) => onContainer(id, (rt) => rt.updateContainer(id, update)),
    exec: (id, command, timeoutMs) => onContainer(id, (rt) => rt.exec(id, command, timeoutMs)),
    followLogs: (id, since, signal) => onContainer(id, (rt) => (rt.followLogs ? rt.followLogs(id, since, signal) : Promise.reject(new BerthError('E_DOCKER', `the engine of container ${id} cannot follow its output`)))),
    containerLogs: (id, opts) => onContainer(id, (rt) => (rt.containerLogs ? rt.containerLogs(id, opts) : Promise.reject(new BerthError('E_DOCKER', `the engine of container ${id} cannot read its output`)))),
    memoryUsage: (ids) => perNode(ids, (rt, list) => rt.memoryUsage(list)),
    containerStats: (ids) => perNode(ids, (rt, list) => rt.containerStats(list)),
    createVolume: (name, labels, driver, opts) => everywhere(`create volume ${name}`, (rt) => rt.createVolume(name, labels, driver, opts)),
    removeVolume: (name) => everywhere(`remove volume ${name}`, (rt) => rt.removeVolume(name)),
    createNetwork: (name, labels, options) => everywhere(`create network ${name}`, (rt) => rt.createNetwork(name, labels, options)),
    removeNetwork: (name) => everywhere(`remove network ${name}`, (rt) => rt.removeNetwork(name)),
    async buildImage(ref, files, dockerfile, labels, opts) {
      const node = pool.defaultNode();
      if (!node) throw new BerthError('E_DOCKER', 'no node to build on');
      return track(node, () => node.runtime.buildImage(ref, files, dockerfile, labels, opts));
    },
    async exportImage(ref) {
      for (const n of pool.nodes().filter((x) => x.state === 'Ready')) {
        try {
          return await n.runtime.exportImage(ref);
        } catch (err) {
          if (asBerthError(err).code !== 'E_IMAGE_MISSING') throw err;
        }
      }
      throw new BerthError('E_IMAGE_MISSING', `image ${ref} is on no node`, { terminal: true });
    },
    async importImage(tar, ref) {
      const node = pool.defaultNode();
      if (!node) throw new BerthError('E_DOCKER', 'no node to load the image on');
      await node.runtime.importImage(tar, ref);
    },
    subscribe(instance, onEvent: (e: RuntimeEvent) => void, onReconnect) {
      const subs = new Map<string, () => void>();
      // A node that joins later is watched from its next check on: what happened on it before is caught up by a pass.
      const attach = (catchUp: boolean) => {
        for (const n of pool.nodes()) {
          if (subs.has(n.name)) continue;
          subs.set(n.name, n.runtime.subscribe(instance, onEvent, onReconnect, { catchUp }));
        }
      };
      attach(false);
      const timer = setInterval(() => attach(true), 5_000); // nodes added by a later revision
      timer.unref();
      return () => {
        clearInterval(timer);
        for (const off of subs.values()) off();
      };
    },
  };
}
