// Entry of the validation worker thread. A worker starts without the parent's module hooks, so it registers tsx (as
// bin/berth.js does) before importing the TypeScript worker module named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
