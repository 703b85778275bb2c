# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitoring knowledge: what the GPU exporter exports, and the Grafana dashboards the collection ships."""
