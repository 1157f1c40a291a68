// W3 anchor: supercluster (the clustering library behind Mapbox/MapLibre GeoJSON sources)
// on the same points and viewports as tg-spatial. Usage: node supercluster.mjs DIR
import { readFileSync } from 'node:fs';
import Supercluster from 'supercluster';

const dir = process.argv[2];
const buf = readFileSync(`${dir}/points.f64`);
const coords = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
const features = [];
for (let i = 0; i < coords.length / 2; i++) {
  features.push({ type: 'Feature', properties: { id: i }, geometry: { type: 'Point', coordinates: [coords[2 * i], coords[2 * i + 1]] } });
}
const views = JSON.parse(readFileSync(`${dir}/viewports.json`, 'utf8'));
let t = performance.now();
// radius 64 px and maxZoom 16: the same cell size and depth as tg-spatial's grid.
const index = new Supercluster({ radius: 64, extent: 256, maxZoom: 16 }).load(features);
const build = (performance.now() - t) / 1000;
const times = [];
let clusters = 0;
for (const [z, b] of views) {
  t = performance.now();
  const c = index.getClusters(b, z);
  times.push(performance.now() - t);
  clusters += c.length;
}
times.sort((a, b) => a - b);
const q = (f) => times[Math.round((times.length - 1) * f)];
console.log(JSON.stringify({ supercluster: { index_build_s: build, query: { median_ms: q(0.5), p95_ms: q(0.95), n: times.length }, clusters_returned: clusters } }, null, 2));
