/**
 * How the workflow code is bundled, the same for the image, `npm start` and the tests:
 *
 * - `preloadModules`: the workflow code's modules (the whole graph under the workflows' entry
 *   point) are loaded once into the worker's reusable V8 context and shared by every workflow,
 *   instead of being evaluated again for each cached workflow — 1.6 MiB of resident memory per
 *   cached workflow became ≈ 0.4 (npm run bench:workflow-memory). Shared modules are frozen by
 *   the SDK, so workflow code keeps no state at module scope (a module-level cache holds only pure
 *   results, e.g. a formatter or a WeakMap keyed by a workflow's own objects) and makes its zod
 *   schemas on first use (`lazily`, workflows/nodes/contracts.ts): a frozen schema cannot parse.
 * - line-level source maps without the sources' text: stack traces still name file and line; the
 *   bundle is 1.9 MB instead of 4.6, and the worker holds it in both of its threads.
 */
import type { BundleOptions } from '@temporalio/worker';

type Webpack = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

export function workflowBundleOptions(workflowsPath: string): Pick<BundleOptions, 'workflowsPath' | 'preloadModules' | 'webpackConfigHook'> {
  return {
    workflowsPath,
    preloadModules: [workflowsPath],
    webpackConfigHook: (c: Webpack): Webpack => ({ ...c, devtool: 'inline-nosources-cheap-module-source-map' }),
  };
}

export const QUIET_BUNDLER = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
