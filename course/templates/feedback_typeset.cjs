// Typeset the math of feedback pages to SVG, so a page needs no MathJax and no network when a student opens it.
// Called by course/classroom/feedback.py with NODE_PATH=slides/node_modules (the MathJax the slides use):
// reads a JSON list of {"tex": "...", "display": bool} on stdin, writes {"css": "...", "items": [{"svg"} | {"error"}]}.
// Unlike slides/typeset.cjs, much of this TeX is a student's: no newcommand (a \renewcommand in one answer would
// change every formula typeset after it, other students' too), labels reset before each formula, and a TeX error
// is reported per formula (feedback.py then leaves that formula as text) instead of failing the run.
"use strict";
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
require("mathjax-full/js/input/tex/base/BaseConfiguration.js");
require("mathjax-full/js/input/tex/ams/AmsConfiguration.js");
require("mathjax-full/js/input/tex/boldsymbol/BoldsymbolConfiguration.js");

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const tex = new TeX({
  packages: ["base", "ams", "boldsymbol"],
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
      tex.reset();
      const node = doc.convert(source, { display, em: 16, ex: 8, containerWidth: 1000 });
      return { svg: adaptor.outerHTML(node) };
    } catch (err) {
      return { error: String(err && err.message ? err.message : err) };
    }
  });
  const css = adaptor.textContent(svg.styleSheet(doc));
  process.stdout.write(JSON.stringify({ css, items }));
});
