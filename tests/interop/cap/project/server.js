// Binds CAP's HTTP server to the loopback interface only (cds.server's own app.listen(port) would
// listen on every interface); everything else is CAP's standard bootstrapping.
const cds = require('@sap/cds')
const express = require('express')

module.exports = function loopback_server (options) {
  const app = express()
  const listen = app.listen.bind(app)
  app.listen = (port) => listen(port, '127.0.0.1')
  return cds.server({ ...options, app })
}
