export const ROOT: string;
export const BUNDLE_ENTRY: string;
export const BUNDLE_STAMP: string;
export function sourcesMtime(): number;
export function bundleIsFresh(): boolean;
