/**
 * Loads a history file written by `temporal workflow show --output json` (proto JSON) into a
 * decoded History for `Worker.runReplayHistory`.
 *
 * Why not `historyFromJSON` of @temporalio/common: in this install @temporalio/common carries its
 * own protobufjs 8 (with ext/protojson) while @temporalio/proto's types are built on protobufjs 7,
 * so `historyFromJSON`/`historyToJSON` throw "type must be a Type". Here the protobufjs 7 root of
 * @temporalio/proto is re-read by protobufjs 8, the JSON parsed with its protojson, encoded, and
 * decoded by @temporalio/proto: the same proto JSON semantics, one binary hop.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as proto from '@temporalio/proto';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { workflowBundleOptions } from '../../workers/bundle-options';

interface Pb8Type {
  encode(message: unknown): { finish(): Uint8Array };
}
interface Pb8 {
  Root: { fromJSON(json: unknown): { lookupType(name: string): Pb8Type } };
}
interface ProtoJson {
  fromJson(type: Pb8Type, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pb8 = require('@temporalio/common/node_modules/protobufjs') as Pb8;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require('@temporalio/common/node_modules/protobufjs/ext/protojson') as ProtoJson;

let historyType: Pb8Type | undefined;

export type History = proto.temporal.api.history.v1.History;

export function loadHistory(file: string): History {
  if (!historyType) {
    const root7 = patchProtobufRoot(proto) as unknown as { toJSON(): unknown };
    historyType = pb8.Root.fromJSON(root7.toJSON()).lookupType('temporal.api.history.v1.History');
  }
  const json: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  const message = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
  return proto.temporal.api.history.v1.History.decode(historyType.encode(message).finish());
}

/** The workflow id a history was recorded under (`<name>.workflow-id` next to `<name>.json`). */
export function recordedWorkflowId(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file.replace(/\.json$/, '.workflow-id')), 'utf8').trim();
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Bundles workflow code for a replay, without the bundler's log lines. */
export function bundleQuietly(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ ...workflowBundleOptions(workflowsPath), logger: quiet });
}
