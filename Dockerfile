# Image for the production topology in docker-compose.yml (web, worker, beat).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The interface's catalogs (signing/translations/*/LC_MESSAGES/messages.po -> .mo), as `make translations` does.
RUN pybabel --quiet compile -d signing/translations
RUN useradd --create-home accord && mkdir -p /app/instance && chown accord /app/instance
USER accord
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "wsgi:app"]
