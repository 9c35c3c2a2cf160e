// The shape of @sveltejs/adapter-cloudflare 7's .svelte-kit/cloudflare/_worker.js: the server and
// the manifest come from outside this directory, `env` from the runtime.
import { Server } from "./../output/server/index.js";
import { manifest, prerendered, base_path } from "./../cloudflare-tmp/manifest.js";
import { env } from "cloudflare:workers";

const server = new Server(manifest);
const immutable = `/${manifest.appPath}/immutable/`;
const initialized = server.init({ env });

export default {
  async fetch(req, env2, ctx) {
    await initialized;
    const { pathname } = new URL(req.url);
    if (prerendered.has(pathname) || pathname.startsWith(immutable)) {
      const res = await env2.ASSETS.fetch(req);
      return new Response(res.body, res);
    }
    return server.respond(req, { base: base_path, platform: { env: env2, ctx } });
  },
};
