export const manifest = {
  appDir: "_app",
  appPath: "_app",
  routes: { "/": 0 },
  nodes: [() => import("../output/server/nodes/0.js")],
};
export const prerendered = new Set(["/about"]);
export const base_path = "";
