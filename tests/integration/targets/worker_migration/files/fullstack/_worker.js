export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/api/")) {
      return new Response("api answered " + url.pathname + " with " + env.GREETING);
    }
    return env.ASSETS.fetch(request);
  },
};
