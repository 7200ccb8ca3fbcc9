import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  logicalCores: number;
  memoryGb: number;
  platform: string;
  node: string;
  onnxruntimeNode: string;
  transformersJs: string;
}

function packageVersion(name: string): string {
  try {
    const path = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(readFileSync(path, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    logicalCores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
    transformersJs: packageVersion('@huggingface/transformers'),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.logicalCores} logical cores, ${m.memoryGb} GB RAM, ${m.platform}; Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}, @huggingface/transformers ${m.transformersJs}`;
}
