/** The project's files are found from the TypeScript sources and from the compiled dist/ alike. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { nodeScript, projectRoot } from '../../../lib/paths';

describe('lib/paths.ts', function () {
  it('projectRoot is the nearest directory with a package.json: the checkout from its sources, and from dist/', function () {
    const root = path.resolve(__dirname, '..', '..', '..');
    expect(projectRoot()).to.equal(root);
    expect(projectRoot(path.join(root, 'dist', 'sandbox'))).to.equal(root);
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-paths-'));
    try {
      fs.mkdirSync(path.join(app, 'dist', 'workers'), { recursive: true });
      fs.writeFileSync(path.join(app, 'package.json'), '{}');
      expect(projectRoot(path.join(app, 'dist', 'workers'))).to.equal(app);
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  });

  it('nodeScript runs a TypeScript source through tsx when this code is not the compiled one', function () {
    const file = path.join(projectRoot(), 'sandbox', 'vpsie-sim', 'main.ts');
    expect(nodeScript(file)).to.deep.equal(['--import', 'tsx', file]);
  });
});
