import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

/** Vant's icon font lists a CDN copy after the embedded woff2. The app runs on intranets under a CSP
 *  that allows only same-origin and data: fonts, and Chromium still tries the remote copy (a CSP
 *  error in the console): drop remote sources from the font lists of packaged CSS. */
function noRemoteFonts(): Plugin {
  const remote = /,\s*url\(\s*["']?(?:https?:)?\/\/[^)]*\)(?:\s*format\([^)]*\))?/g
  return {
    name: 'tg-no-remote-fonts',
    enforce: 'pre',
    transform(code, id) {
      if (!/node_modules[\\/]vant[\\/].*\.css($|\?)/.test(id) || !code.includes('@font-face')) return null
      return { code: code.replace(/@font-face\s*\{[^}]*\}/g, (rule) => rule.replace(remote, '')), map: null }
    },
  }
}

// The Rust binary serves the built app from the same origin; in development Vite proxies the API.
const backend = process.env.TG_BACKEND ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue(), noRemoteFonts()],
  server: {
    proxy: {
      // '/api/' and not '/api': the API docs page itself (/api-docs) is served by Vite.
      '/api/': backend,
      '/healthz': backend,
      '/readyz': backend,
      '/metrics': backend,
    },
  },
  build: {
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/element-plus') || id.includes('@element-plus')) return 'element-plus'
          if (id.includes('node_modules/vant')) return 'vant'
          if (id.includes('node_modules/swagger-ui-dist')) return 'swagger'
          if (id.includes('node_modules/maplibre-gl')) return 'maplibre'
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
          return undefined
        },
      },
    },
  },
})
