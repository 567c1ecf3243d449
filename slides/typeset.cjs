// Typeset TeX to SVG at build time, so a deck needs no MathJax (and no network) when it is shown.
// Called by course/slides.py: reads a JSON list of {"tex": "...", "display": bool} on stdin and writes
// {"css": "...", "items": [{"svg": "..."} | {"error": "..."}]} on stdout. One process per deck, so the
// SVG ids (and therefore the built HTML) depend only on that deck's math.
"use strict";
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
require("mathjax-full/js/input/tex/base/BaseConfiguration.js");
require("mathjax-full/js/input/tex/ams/AmsConfiguration.js");
require("mathjax-full/js/input/tex/boldsymbol/BoldsymbolConfiguration.js");
require("mathjax-full/js/input/tex/newcommand/NewcommandConfiguration.js");

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
// No "noerrors"/"noundefined": a TeX mistake must fail the build, not show up red on a slide.
const tex = new TeX({
  packages: ["base", "ams", "boldsymbol", "newcommand"],
  formatError: (jax, err) => { throw err; },
});
const svg = new SVG({ fontCache: "local" });
const doc = mathjax.document("", { InputJax: tex, OutputJax: svg });

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const items = JSON.parse(input).map(({ tex: source, display }) => {
    try {
      const node = doc.convert(source, { display, em: 16, ex: 8, containerWidth: 1200 });
      return { svg: adaptor.outerHTML(node) };
    } catch (err) {
      return { error: String(err && err.message ? err.message : err) };
    }
  });
  const css = adaptor.textContent(svg.styleSheet(doc));
  process.stdout.write(JSON.stringify({ css, items }));
});
