"""The CDI hook the container runtime runs on the host for every container of an intercepted claim.

``dra_driver.cdihook.region`` is one stdlib-only file that the chart copies onto the host and the
runtime runs with the host's Python (DESIGN §5). Nothing in this package may import another hdra
package or a third-party module: it must run from that lone file.
"""
