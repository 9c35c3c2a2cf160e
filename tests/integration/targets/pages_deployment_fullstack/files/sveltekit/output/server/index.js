import { VERSION } from "./chunks/version.js";
import { json, html } from "./chunks/respond.js";

export class Server {
  constructor(manifest) {
    this.manifest = manifest;
    this.env = null;
  }

  async init({ env }) {
    this.env = env;
  }

  async respond(request, { base, platform }) {
    const url = new URL(request.url);
    const path = url.pathname.slice(base.length);
    if (path === "/api/hello") {
      if (request.method === "POST") {
        return json({ echo: await request.text(), method: request.method });
      }
      return json({
        hello: url.searchParams.get("name") || "world",
        version: VERSION,
        greeting: this.env.GREETING ?? null,
        same_env: this.env.GREETING === platform.env.GREETING,
      });
    }
    const route = this.manifest.routes[path];
    if (route === undefined) {
      return html(404, "<h1>Not found</h1>");
    }
    const node = await this.manifest.nodes[route]();
    return html(200, node.render({ version: VERSION, name: url.searchParams.get("name") || "SvelteKit" }));
  }
}
