import { createHash } from 'node:crypto';
import { dataFilesIn, parseHubStorageKey } from '@slmkit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  dtypeOfOnnxFile,
  MODEL_DTYPES,
  missingVariantError,
  onnxFileForDtype,
} from '../../packages/core/src/sources/dtype.js';
import { checkRepoPath, storageKey } from '../../packages/core/src/sources/keys.js';
import { Sha256 } from '../../packages/core/src/sources/sha256.js';
import { bytes } from './fixture.js';

describe('external data file names', () => {
  it('are the shards named after the graph, in shard order, or its .data file', () => {
    const folder = [
      'model.onnx',
      'model.onnx_data_10',
      'model.onnx_data_2',
      'model.onnx_data',
      'model.onnx_data_x',
      'model.onnx_data_1',
      'model_q4.onnx_data',
      'other.onnx.data',
    ];
    expect(dataFilesIn(folder, 'model.onnx')).toEqual([
      'model.onnx_data',
      'model.onnx_data_1',
      'model.onnx_data_2',
      'model.onnx_data_10',
    ]);
    expect(dataFilesIn(['model.onnx', 'model.onnx.data', 'model.onnx.data.bak'], 'model.onnx')).toEqual([
      'model.onnx.data',
    ]);
    expect(dataFilesIn(new Set(['onnx/model_q4.onnx_data']), 'onnx/model_q4.onnx')).toEqual([
      'onnx/model_q4.onnx_data',
    ]);
  });
});

describe('dtype file names', () => {
  it('follow the onnx-community / transformers.js naming', () => {
    expect(Object.fromEntries(MODEL_DTYPES.map((d) => [d, onnxFileForDtype(d)]))).toEqual({
      fp32: 'onnx/model.onnx',
      fp16: 'onnx/model_fp16.onnx',
      q8: 'onnx/model_quantized.onnx',
      int8: 'onnx/model_int8.onnx',
      uint8: 'onnx/model_uint8.onnx',
      q4: 'onnx/model_q4.onnx',
      q4f16: 'onnx/model_q4f16.onnx',
      bnb4: 'onnx/model_bnb4.onnx',
    });
    expect(onnxFileForDtype('q8', 'decoder_model_merged')).toBe('onnx/decoder_model_merged_quantized.onnx');
    for (const d of MODEL_DTYPES) expect(dtypeOfOnnxFile(onnxFileForDtype(d))).toBe(d);
    expect(dtypeOfOnnxFile('onnx/other.onnx')).toBeUndefined();
  });

  it('rejects an unknown dtype', () => {
    expect(() => onnxFileForDtype('q3' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });

  it('builds the missing-variant error from the files present', () => {
    const error = missingVariantError(
      'onnx/model_q4.onnx',
      ['onnx/model_fp16.onnx', 'onnx/model.onnx'],
      '/models/x',
    );
    expect(error.code).toBe('MODEL_FILE_MISSING');
    expect(error.message).toBe(
      '/models/x has no q4 variant (onnx/model_q4.onnx). It has: fp32 (onnx/model.onnx), fp16 (onnx/model_fp16.onnx). Pass one of these dtypes as `dtype`, or a path as `modelFile`.',
    );
    expect(missingVariantError('onnx/model.onnx', [], 'hub:a/b@main').message).toMatch(/no \.onnx files/);
  });
});

describe('Sha256', () => {
  it('matches node:crypto for every padding case, fed in odd chunks', () => {
    for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_001]) {
      const data = bytes(size, size + 7);
      const hash = new Sha256();
      for (let i = 0; i < size; i += 37) hash.update(data.subarray(i, i + 37));
      expect(hash.hex(), String(size)).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });
});

describe('storage keys', () => {
  it('name hub repositories like the Hugging Face cache and read back', () => {
    const key = storageKey({ kind: 'hub', repo: 'org/name', revision: 'refs/pr/1' }, 'onnx/model.onnx');
    expect(key).toBe('hub/models--org--name/refs%2Fpr%2F1/onnx/model.onnx');
    expect(parseHubStorageKey(key)).toEqual({
      repoFolder: 'models--org--name',
      repo: 'org/name',
      revision: 'refs/pr/1',
      path: 'onnx/model.onnx',
    });
    expect(parseHubStorageKey('url/host/x')).toBeUndefined();
  });

  it('name URL sources by host, port and path', () => {
    expect(
      storageKey({ kind: 'url', baseUrl: 'http://127.0.0.1:8080/models/my%20model/' }, 'config.json'),
    ).toBe('url/127.0.0.1_8080/models/my_model/config.json');
  });

  it('refuse paths that leave the repository', () => {
    for (const bad of ['', '../x', 'a/../../x', '/etc/passwd', 'a//b', 'a\\b']) {
      expect(() => checkRepoPath(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    }
  });
});
