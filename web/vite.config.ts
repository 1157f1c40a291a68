import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The Rust binary serves the built app from the same origin; in development Vite proxies the API.
const backend = process.env.TG_BACKEND ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  server: {
    proxy: {
      '/api': backend,
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
          return undefined
        },
      },
    },
  },
})
