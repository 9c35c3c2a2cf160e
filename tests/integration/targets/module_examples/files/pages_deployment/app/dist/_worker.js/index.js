import { render } from "./chunks/render.js";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/ssr/")) {
      return new Response(render(url.pathname), { headers: { "content-type": "text/html" } });
    }
    return env.ASSETS.fetch(request);
  },
};
