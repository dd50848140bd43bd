// Builds ui/ into the Python package (src/windvane/api/ui/static) with fixed file names, so a
// rebuild of unchanged sources gives byte-identical files and `git diff` shows real changes only.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/static/",
  build: {
    outDir: "../src/windvane/api/ui/static",
    emptyOutDir: true,
    target: "es2020",
    rollupOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
